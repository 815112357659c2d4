"""Episode-aware sampling that shards exactly once across ranks and resumes sample-exactly.

The order of an epoch comes from lerobot's `EpisodeAwareSampler` (a pure function of seed and epoch, same
on every rank). Rank r keeps positions r, r+W, r+2W, ... of that order, truncated so every rank gets the
same count. The DataLoader is NOT passed to `accelerator.prepare`, so accelerate never shards it again.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from lerobot.datasets.sampler import EpisodeAwareSampler


class DistributedEpisodeAwareSampler(EpisodeAwareSampler):
    def __init__(self, *args, rank: int = 0, num_replicas: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} outside [0, {num_replicas})")
        self.rank = rank
        self.num_replicas = num_replicas
        self._per_rank = self._num_frames // num_replicas
        if self._per_rank == 0:
            raise ValueError(f"{self._num_frames} frames cannot be split over {num_replicas} processes")

    def _iter_epoch(self, epoch: int, start: int) -> Iterator[int]:
        # `start` counts positions of this rank's own sequence.
        parent = super()._iter_epoch(epoch, 0)
        for position, index in enumerate(parent):
            own, remainder = divmod(position, self.num_replicas)
            if own >= self._per_rank:
                return
            if remainder == self.rank and own >= start:
                yield index

    def __len__(self) -> int:
        return self._per_rank

    def position_for(self, micro_batches_done: int, batch_size: int, drop_last: bool) -> dict:
        """Sampler state after `micro_batches_done` batches of `batch_size` on this rank."""
        per_epoch = self._per_rank // batch_size if drop_last else math.ceil(self._per_rank / batch_size)
        per_epoch = max(per_epoch, 1)
        epoch, into = divmod(micro_batches_done, per_epoch)
        return {"epoch": epoch, "start_index": min(into * batch_size, self._per_rank)}
