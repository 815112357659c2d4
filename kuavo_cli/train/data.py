"""Datasets for training: a deterministic episode split, lerobot datasets with the policy's delta timestamps,
and DataLoaders configured per the seed README (single vs multi-process)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from kuavo_cli.config.models import TrainConfig
from kuavo_cli.errors import UsageError
from kuavo_cli.train.multi import PerSourceLoss, describe  # noqa: F401  (used by the trainer)
from kuavo_cli.train.sampler import DistributedEpisodeAwareSampler
from kuavo_cli.utils.logs import quiet_logs


@dataclass
class EpisodeSplit:
    train_episodes: list[int]
    val_episodes: list[int]
    seed: int | None
    split_ratio: float
    repo_id: str
    dataset_root: str | None
    sources: list[dict] | None = None  # multi-task runs: each dataset's own split (kuavo_cli/train/multi.py)

    def to_json(self) -> str:
        return json.dumps(
            {k: v for k, v in self.__dict__.items() if v is not None or k != "sources"}, indent=2
        )


def load_metadata(cfg: TrainConfig) -> Any:
    """The dataset's lerobot metadata (with `datasets:`, a CombinedMeta of all of them). With a `root`, every
    file the chosen episodes need is checked first (kuavo_cli/data/integrity.py): a missing or truncated one
    is named, and the hub is never tried."""
    if cfg.datasets:
        from kuavo_cli.train.multi import load_combined_metadata

        return load_combined_metadata(cfg, _load_source_metadata)
    return _load_source_metadata(cfg.dataset)


def _load_source_metadata(source: Any) -> Any:
    """Metadata of one dataset section (`dataset:` or an entry of `datasets:`)."""
    from kuavo_cli.data.metadata import open_checked, open_metadata

    if source.root is None:  # from the hub cache / the hub
        return open_metadata(None, source.repo_id, source.revision)
    return open_checked(source.root, source.repo_id, source.episodes, source.revision, label="dataset root")


def split_episodes(cfg: TrainConfig, num_episodes: int, meta: Any = None) -> EpisodeSplit:
    """Hold out whole episodes: same seed, same split; at least one episode on each side. With `datasets:`
    (meta is a CombinedMeta), each dataset is split on its own; episode numbers are then global."""
    if cfg.datasets and meta is not None:
        from kuavo_cli.train.multi import split_sources

        train, val, sources = split_sources(cfg, meta, lambda s, n: _split_one(cfg, s, n))
        first = sources[0]
        return EpisodeSplit(
            train, val, cfg.seed, cfg.split_ratio, first["repo_id"], first["dataset_root"], sources
        )
    return _split_one(cfg, cfg.dataset, num_episodes)


def _split_one(cfg: TrainConfig, source: Any, num_episodes: int) -> EpisodeSplit:
    label = "dataset.episodes" if source is cfg.dataset else f"datasets[{source.label()}].episodes"
    episodes = list(source.episodes) if source.episodes is not None else list(range(num_episodes))
    bad = [e for e in episodes if e >= num_episodes]
    if bad:
        raise UsageError(f"{label} {bad} out of range: the dataset has {num_episodes} episodes")
    if len(episodes) < 2:
        raise UsageError(
            f"need at least 2 episodes to hold one out for validation, got {len(episodes)}"
            + ("" if source is cfg.dataset else f" in {source.label()}"),
            "add episodes or record more demonstrations",
        )
    shuffled = episodes[:]
    random.Random(cfg.seed if cfg.seed is not None else 0).shuffle(shuffled)
    n_train = min(max(round(len(shuffled) * cfg.split_ratio), 1), len(shuffled) - 1)
    return EpisodeSplit(
        train_episodes=sorted(shuffled[:n_train]),
        val_episodes=sorted(shuffled[n_train:]),
        seed=cfg.seed,
        split_ratio=cfg.split_ratio,
        repo_id=source.repo_id,
        dataset_root=str(Path(source.root).resolve()) if source.root else None,
    )


def make_dataset(cfg: TrainConfig, meta: Any, policy_cfg: Any, episodes: list[int], train: bool):
    if cfg.datasets and hasattr(meta, "sources"):  # a CombinedMeta: one LeRobotDataset per dataset
        from kuavo_cli.train.multi import MultiSourceDataset

        parts = [
            _make_one(cfg, source, one_meta, policy_cfg, local, train)
            for source, one_meta, local in zip(meta.sources, meta.metas, meta.locate(episodes), strict=True)
        ]
        return MultiSourceDataset(parts, [s.label() for s in meta.sources], [s.weight for s in meta.sources])
    return _make_one(cfg, cfg.dataset, meta, policy_cfg, episodes, train)


def _make_one(cfg: TrainConfig, source: Any, meta: Any, policy_cfg: Any, episodes: list[int], train: bool):
    from lerobot.datasets import LeRobotDataset
    from lerobot.datasets.factory import resolve_delta_timestamps

    transforms = None
    if train and cfg.dataset.image_transforms:
        from lerobot.transforms import ImageTransforms, ImageTransformsConfig

        transforms = ImageTransforms(ImageTransformsConfig(enable=True))
    with quiet_logs():
        dataset = LeRobotDataset(
            source.repo_id,
            root=source.root,
            episodes=episodes,
            delta_timestamps=resolve_delta_timestamps(policy_cfg, meta),
            image_transforms=transforms,
            revision=source.revision,
            video_backend=cfg.dataset.video_backend,
            tolerance_s=cfg.dataset.tolerance_s,
            # uint8 frames: converted to float by the collate (CPU training) or on the GPU (see _collate).
            # Augmentations expect float frames, so not with those.
            return_uint8=transforms is None,
        )
    return _with_fast_reader(cfg, dataset, policy_cfg)


def _with_fast_reader(cfg: TrainConfig, dataset: Any, policy_cfg: Any = None) -> Any:
    """Same items, cheaper reads (kuavo_cli/data/fast_reader.py); frames from the decoded-frame cache when
    `dataset.cache` is on (built on first use, one builder across ranks; at the policy's resolution with
    `dataset.cache_resolution: policy`)."""
    from kuavo_cli.data.fast_reader import use_fast_reader

    cache = None
    if cfg.dataset.cache:
        from kuavo_cli.data.frame_cache import FrameCache
        from kuavo_cli.data.frame_cache_build import ensure_frame_cache_with_bar
        from kuavo_cli.data.frame_cache_plan import resize_for

        resize = resize_for(cfg.dataset.cache_resolution, policy_cfg)
        if resize is not None and cfg.dataset.image_transforms:
            raise UsageError(
                "dataset.image_transforms augment full-resolution frames; with cache_resolution: policy "
                "they would see the resized ones",
                "use dataset.cache_resolution: native (or turn the augmentations off)",
            )
        built = ensure_frame_cache_with_bar(dataset.root, dataset.meta, cfg.dataset.cache_dir, resize=resize)
        cache = FrameCache(built.path)
    return use_fast_reader(dataset, cache=cache)


def _collate(dataset: Any, on_gpu: bool):
    """uint8 frames go to the GPU as uint8 (4x less to pin and transfer; the trainer converts them there
    with images_to_float), or become float32 inside the workers' collate for CPU training."""
    from kuavo_cli.data.batch import make_collate

    return make_collate(
        getattr(getattr(dataset, "reader", None), "_return_uint8", False), to_float=not on_gpu
    )


def make_train_loader(
    cfg: TrainConfig,
    dataset: Any,
    policy_cfg: Any,
    rank: int,
    world: int,
    distributed: bool,
    pin_memory: bool,
) -> tuple[torch.utils.data.DataLoader, DistributedEpisodeAwareSampler]:
    drop_last_frames = getattr(policy_cfg, "drop_n_last_frames", 0) or 0
    seed = cfg.seed if cfg.seed is not None else 0
    if hasattr(dataset, "names"):  # several datasets: drawn by weight (kuavo_cli/train/multi.py)
        from kuavo_cli.train.multi import WeightedSourceSampler

        sampler = WeightedSourceSampler(
            dataset, drop_last_frames, seed, rank if distributed else 0, world if distributed else 1
        )
    else:
        meta_eps = dataset.meta.episodes
        sampler = DistributedEpisodeAwareSampler(
            meta_eps["dataset_from_index"],
            meta_eps["dataset_to_index"],
            episode_indices_to_use=dataset.episodes,
            drop_n_last_frames=drop_last_frames,
            shuffle=True,
            seed=seed,
            absolute_to_relative_idx=dataset.absolute_to_relative_idx,
            rank=rank if distributed else 0,
            num_replicas=world if distributed else 1,
        )
    workers = cfg.num_workers
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=pin_memory,
        collate_fn=_collate(dataset, on_gpu=pin_memory),  # pin_memory is set exactly when training on CUDA
        drop_last=distributed,
        persistent_workers=workers > 0,  # no worker restart (and decoder re-open) every epoch
        prefetch_factor=cfg.prefetch_factor if workers > 0 else None,
        # A private generator: creating an iterator must not consume the global RNG (sample-exact resume).
        # Offset per rank, so the workers' random augmentations differ across processes.
        generator=torch.Generator().manual_seed((cfg.seed if cfg.seed is not None else 0) + rank),
    )
    return loader, sampler


def make_val_loader(cfg: TrainConfig, dataset: Any, rank: int, world: int, pin_memory: bool):
    """The same held-out frames at every evaluation: `num_eval_batches` batches per rank, spread evenly over
    all validation episodes; ranks take disjoint strided slices of equal length."""
    if hasattr(dataset, "names"):  # several datasets: the same budget for each, batches never mixed
        from kuavo_cli.train.multi import val_batches

        batches = val_batches(dataset, cfg.num_eval_batches * cfg.batch_size, cfg.batch_size, rank, world)
        return torch.utils.data.DataLoader(
            dataset,
            batch_sampler=batches,
            num_workers=min(cfg.num_workers, 2),
            pin_memory=pin_memory,
            collate_fn=_collate(dataset, on_gpu=pin_memory),
        )
    n = len(dataset)
    wanted = min(n, cfg.num_eval_batches * cfg.batch_size * world)
    wanted -= wanted % world
    if wanted == 0:
        raise UsageError(f"the validation split has {n} frames, fewer than the {world} processes")
    chosen = torch.linspace(0, n - 1, wanted).round().long().tolist()
    indices = chosen[rank::world]
    subset = torch.utils.data.Subset(dataset, indices)
    return torch.utils.data.DataLoader(
        subset,
        batch_size=cfg.batch_size,
        shuffle=False,
        num_workers=min(cfg.num_workers, 2),
        pin_memory=pin_memory,
        collate_fn=_collate(dataset, on_gpu=pin_memory),
        drop_last=False,
    )
