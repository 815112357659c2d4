"""Multi-task training (`datasets:` in the config): several LeRobot datasets, one policy.

lerobot 0.6.1's `MultiLeRobotDataset` does not fit: it needs every dataset under one root named by repo id,
has no sampling weights, and silently drops features that are not in all datasets. So each dataset stays
a plain `LeRobotDataset` (its own root, episodes, task texts and video files), features must match (refused
naming the key otherwise), and a weighted sampler draws the training frames:

- each position of an epoch first picks a dataset with probability weight / sum(weights), then the next
  frame of that dataset's own shuffled order (reshuffled when used up); an epoch has as many positions as
  there are training frames in all datasets, and is a pure function of (seed, epoch), sharded across ranks
  and resumed exactly like the single-dataset sampler;
- the episode split (train/val) is made per dataset, so each dataset is validated on its own held-out
  episodes, and validation batches never mix datasets: the loss is reported per dataset.

Episodes are numbered globally (dataset i's episode e is `offset_i + e`) in the split that the trainer and
split.json see; `sources` in split.json lists each dataset's own (local) episode numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from kuavo_cli.config.models import DatasetSource, TrainConfig
from kuavo_cli.errors import UsageError
from kuavo_cli.train.sampler import DistributedEpisodeAwareSampler

SOURCE_KEY = "dataset_index"  # the key lerobot's MultiLeRobotDataset uses for the same thing


class CombinedMeta:
    """The first dataset's lerobot metadata (features, fps, names) with the statistics of all of them
    (lerobot's aggregate_stats), as the policy and its normaliser need; `sources` holds each one's own."""

    def __init__(self, sources: list[DatasetSource], metas: list[Any]):
        from lerobot.datasets.compute_stats import aggregate_stats

        self.sources = sources
        self.metas = metas
        self.stats = aggregate_stats([m.stats for m in metas])
        self.offsets = [int(x) for x in np.cumsum([0] + [m.total_episodes for m in metas])[:-1]]

    @property
    def total_episodes(self) -> int:
        return sum(m.total_episodes for m in self.metas)

    @property
    def total_frames(self) -> int:
        return sum(m.total_frames for m in self.metas)

    def __getattr__(self, name: str) -> Any:  # everything else: the first dataset's (features match)
        metas = self.__dict__.get("metas")
        if not metas:
            raise AttributeError(name)
        return getattr(metas[0], name)

    def locate(self, episodes: list[int]) -> list[list[int]]:
        """Global episode numbers -> each dataset's local ones."""
        per: list[list[int]] = [[] for _ in self.metas]
        for e in episodes:
            i = int(np.searchsorted(self.offsets, e, side="right")) - 1
            per[i].append(e - self.offsets[i])
        return per


def load_combined_metadata(cfg: TrainConfig, load_one) -> CombinedMeta:
    from kuavo_cli.data.compat import require_compatible

    sources = list(cfg.datasets or [])
    metas = [load_one(s) for s in sources]
    require_compatible(metas, [f"datasets[{i}] ({s.label()})" for i, s in enumerate(sources)], "train on")
    return CombinedMeta(sources, metas)


def split_sources(cfg: TrainConfig, meta: CombinedMeta, split_one) -> Any:
    """Split each dataset with the run's seed and ratio; global numbers in train/val, local in sources."""
    train, val, described = [], [], []
    for source, one_meta, offset in zip(meta.sources, meta.metas, meta.offsets, strict=True):
        part = split_one(source, one_meta.total_episodes)
        train += [offset + e for e in part.train_episodes]
        val += [offset + e for e in part.val_episodes]
        described.append(
            {
                "name": source.label(),
                "repo_id": source.repo_id,
                "dataset_root": part.dataset_root,
                "weight": source.weight,
                "train_episodes": part.train_episodes,
                "val_episodes": part.val_episodes,
            }
        )
    return train, val, described


class MultiSourceDataset(torch.utils.data.ConcatDataset):
    """Several (accelerated) LeRobotDatasets end to end; each item says which one it came from."""

    def __init__(self, datasets: list[Any], names: list[str], weights: list[float]):
        super().__init__(datasets)
        self.names = names
        self.weights = weights
        self.reader = getattr(datasets[0], "reader", None)  # same read settings in all (collate needs it)

    def __getitem__(self, idx: int) -> dict:
        source = int(np.searchsorted(self.cumulative_sizes, idx, side="right"))
        item = super().__getitem__(idx)
        item[SOURCE_KEY] = torch.tensor(source)
        return item

    def source_ranges(self) -> list[tuple[int, int]]:
        starts = [0, *self.cumulative_sizes[:-1]]
        return list(zip(starts, self.cumulative_sizes, strict=True))


class WeightedSourceSampler(DistributedEpisodeAwareSampler):
    """Frames of a MultiSourceDataset, datasets drawn by weight (see the module docstring)."""

    def __init__(
        self, dataset: MultiSourceDataset, drop_n_last_frames: int, seed: int, rank: int, world: int
    ):
        starts, ends, owner = [], [], []
        for i, (sub, (offset, _)) in enumerate(zip(dataset.datasets, dataset.source_ranges(), strict=True)):
            eps = sub.meta.episodes
            to_relative = sub.absolute_to_relative_idx
            for e in sub.episodes if sub.episodes is not None else range(sub.meta.total_episodes):
                lo, hi = int(eps["dataset_from_index"][e]), int(eps["dataset_to_index"][e])
                first = to_relative[lo] if to_relative is not None else lo
                starts.append(offset + first)
                ends.append(offset + first + (hi - lo))
                owner.append(i)
        super().__init__(
            starts, ends, drop_n_last_frames=drop_n_last_frames, shuffle=True, seed=seed, rank=rank,
            num_replicas=world,
        )  # fmt: skip
        # Positions 0.._num_frames-1 run over the kept episodes in order (lerobot's sampler skips those that
        # drop_n_last_frames empties), so each dataset owns one contiguous block of positions.
        lengths = np.asarray(ends) - drop_n_last_frames - np.asarray(starts)
        kept = lengths > 0
        per_source = np.bincount(
            np.asarray(owner)[kept], weights=lengths[kept], minlength=len(dataset.datasets)
        )
        per_source = per_source.astype(int)
        self.source_blocks = np.concatenate([[0], np.cumsum(per_source)])
        self.weights = torch.tensor(dataset.weights, dtype=torch.float64)

    def epoch_positions(self, epoch: int) -> torch.Tensor:
        g = self._epoch_generator(epoch)
        choice = torch.multinomial(self.weights, self._num_frames, replacement=True, generator=g)
        positions = torch.empty(self._num_frames, dtype=torch.long)
        for i in range(len(self.weights)):
            where = torch.nonzero(choice == i).flatten()
            lo, size = int(self.source_blocks[i]), int(self.source_blocks[i + 1] - self.source_blocks[i])
            if len(where) == 0 or size == 0:
                continue
            rounds = -(-len(where) // size)
            order = torch.cat([torch.randperm(size, generator=g) for _ in range(rounds)])[: len(where)]
            positions[where] = lo + order
        return positions

    def _iter_epoch(self, epoch: int, start: int) -> Iterator[int]:
        for position, k in enumerate(self.epoch_positions(epoch).tolist()):
            own, remainder = divmod(position, self.num_replicas)
            if own >= self._per_rank:
                return
            if remainder == self.rank and own >= start:
                yield self._frame_index(k)


def val_batches(dataset: MultiSourceDataset, per_source: int, batch_size: int, rank: int, world: int):
    """Index batches for validation: per dataset the same `per_source` frames spread over its held-out
    episodes, ranks taking disjoint strided slices; no batch mixes two datasets."""
    batches = []
    for name, (lo, hi) in zip(dataset.names, dataset.source_ranges(), strict=True):
        n = hi - lo
        wanted = min(n, per_source * world)
        wanted -= wanted % world
        if wanted == 0:
            raise UsageError(
                f"the validation split of {name} has {n} frames, fewer than the {world} processes"
            )
        chosen = (lo + torch.linspace(0, n - 1, wanted).round().long()).tolist()[rank::world]
        batches += [chosen[i : i + batch_size] for i in range(0, len(chosen), batch_size)]
    return batches


class PerSourceLoss:
    """Validation sums per dataset; empty for a single-dataset run (then metrics stay as they were)."""

    def __init__(self, dataset: Any, device: Any):
        self.names = list(getattr(dataset, "names", []))
        self.sums = torch.zeros(max(len(self.names), 1), 2, device=device, dtype=torch.float64)

    @staticmethod
    def pop_source(batch: dict) -> torch.Tensor | None:
        return batch.pop(SOURCE_KEY, None)

    def add(self, source: torch.Tensor | None, loss: torch.Tensor, n: int) -> None:
        if source is not None and self.names:
            self.sums[int(source[0])] += torch.stack(
                [loss.detach().double() * n, torch.tensor(float(n), device=self.sums.device).double()]
            )

    def reduce(self, accelerator: Any) -> dict[str, float]:
        if not self.names:
            return {}
        total = accelerator.gather_for_metrics(self.sums.unsqueeze(0)).reshape(-1, len(self.names), 2).sum(0)
        return {name: (total[i, 0] / total[i, 1].clamp(min=1)).item() for i, name in enumerate(self.names)}


def describe(losses: dict[str, float]) -> str:
    return ", ".join(f"{name} {loss:.4f}" for name, loss in losses.items())
