"""A faster read path for lerobot datasets that returns exactly the items lerobot returns.

`KuavoReader` is lerobot's own `DatasetReader` (same `get_item`, same delta-index and padding logic, same
task lookup, same image transforms) with three storage accesses swapped for cheaper ones:

- non-image delta queries (e.g. ACT's 100-step `action` chunk) gather from columns loaded once into
  tensors instead of materialising a whole HF dataset column per sample (~7 ms -> ~0.05 ms a sample);
- video frames are decoded by torchcodec from the file path (FFmpeg reads the file itself) instead of
  through a Python fsspec file object, following lerobot's `decode_video_frames_torchcodec` step for step
  but without its extra copy of every frame (`decode_frames`);
- or, with a `FrameCache`, frames are copied out of a memory-mapped array of pre-decoded frames.

Frames may be shipped as uint8 (4x less worker -> main process traffic, `return_uint8=True` as lerobot
names it); `kuavo_cli.data.batch.images_to_float` then converts them on the training device.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from lerobot.datasets.dataset_reader import DatasetReader
from lerobot.datasets.video_utils import FrameTimestampError, VideoDecoderCache

from kuavo_cli.data.frame_cache import FrameCache


class PathDecoderCache(VideoDecoderCache):
    """lerobot's decoder cache, but decoders open the file path (no Python in FFmpeg's read loop), and a
    forked DataLoader worker never reuses a decoder its parent opened."""

    def __init__(self) -> None:
        super().__init__()
        self._pid = os.getpid()

    def get_decoder(self, video_path: str):
        from torchcodec.decoders import VideoDecoder

        video_path = str(video_path)
        with self._lock:
            if self._pid != os.getpid():
                self._cache.clear()
                self._pid = os.getpid()
            entry = self._cache.get(video_path)
            if entry is not None:
                self._cache.move_to_end(video_path)
                return entry[0]
            decoder = VideoDecoder(video_path, seek_mode="approximate")  # lerobot's seek mode
            self._cache[video_path] = (decoder, None)
            while self.max_size is not None and len(self._cache) > self.max_size:
                self._cache.popitem(last=False)
            return decoder


def _column_tensor(hf_dataset: Any, key: str, shape: list[int]) -> torch.Tensor | None:
    """A whole numeric column as one tensor with the dtype lerobot's hf_transform_to_torch gives each row
    (torch.tensor of Python numbers: floats -> float32, ints -> int64, bools -> bool). None when the
    column is not plain numeric (then lerobot's own query is used for it)."""
    import pyarrow as pa

    if getattr(hf_dataset, "_indices", None) is not None:  # a filtered view: .data is not the rows
        return None
    array = hf_dataset.data.column(key).combine_chunks()
    nested = False  # list cells become (*shape) tensors per row, scalars 0-d tensors
    while pa.types.is_list(array.type) or pa.types.is_fixed_size_list(array.type):
        if array.null_count:
            return None
        array = array.flatten()
        nested = True
    if array.null_count or not (
        pa.types.is_floating(array.type) or pa.types.is_integer(array.type) or pa.types.is_boolean(array.type)
    ):
        return None
    values = array.to_numpy(zero_copy_only=False)
    if values.dtype.kind == "f":
        values = values.astype(np.float32)
    elif values.dtype.kind in "iu":
        values = values.astype(np.int64)
    rows = len(hf_dataset)
    per_row = int(np.prod(shape)) if nested else 1
    if values.size != rows * per_row:
        return None
    out = torch.from_numpy(np.ascontiguousarray(values))
    return out.reshape(rows, *shape) if nested else out.reshape(rows)


def decode_frames(decoder: Any, timestamps: list[float], tolerance_s: float) -> torch.Tensor:
    """lerobot's `decode_video_frames_torchcodec(..., return_uint8=True)`, step for step (frame index =
    round(ts * average_fps), the closest loaded frame per query, the same tolerance check and error), minus
    its unbind + torch.stack, which copies every decoded frame once more: the decoder's own batch is
    returned when it is already in query order (always, unless a frame's neighbour is closer)."""
    average_fps = decoder.metadata.average_fps
    batch = decoder.get_frames_at(indices=[round(ts * average_fps) for ts in timestamps])
    query_ts = torch.tensor(timestamps)
    loaded_ts = torch.tensor(batch.pts_seconds.tolist())  # float32, as lerobot builds it
    min_, argmin_ = torch.cdist(query_ts[:, None], loaded_ts[:, None], p=1).min(1)
    is_within_tol = min_ < tolerance_s
    if not is_within_tol.all():
        raise FrameTimestampError(
            f"One or several query timestamps unexpectedly violate the tolerance ({min_[~is_within_tol]} > "
            f"{tolerance_s=}).\nqueried timestamps: {query_ts}\nloaded timestamps: {loaded_ts}"
        )
    if torch.equal(argmin_, torch.arange(len(timestamps))):
        return batch.data
    return batch.data[argmin_]


class KuavoReader(DatasetReader):
    """Built from an existing lerobot reader with `KuavoReader.adopt(reader, ...)`."""

    @classmethod
    def adopt(cls, reader: DatasetReader, cache: FrameCache | None = None) -> KuavoReader:
        if reader.hf_dataset is None:
            reader.load_and_activate()
        fast = cls.__new__(cls)
        fast.__dict__.update(reader.__dict__)
        fast._setup(cache)
        return fast

    def _setup(self, cache: FrameCache | None) -> None:
        meta = self._meta
        self._frame_cache = cache
        self._decoders = PathDecoderCache()
        self._rgb_video_keys = [k for k in meta.video_keys if k not in meta.depth_keys]
        wanted = {"timestamp"} | {k for k in (self.delta_indices or {}) if k not in meta.video_keys}
        self._columns = {
            key: col
            for key in wanted
            if key in self.hf_dataset.column_names
            and (col := _column_tensor(self.hf_dataset, key, list(meta.features[key]["shape"]))) is not None
        }
        # Per-episode video offsets and files, read once instead of one metadata row per sample.
        self._video_from_ts: dict[tuple[int, str], float] = {}
        self._video_rel: dict[tuple[int, str], str] = {}
        for key in self._rgb_video_keys:
            starts = meta.episodes[f"videos/{key}/from_timestamp"]
            for ep in self.episodes if self.episodes is not None else range(meta.total_episodes):
                self._video_from_ts[(ep, key)] = float(starts[ep])
                self._video_rel[(ep, key)] = str(meta.get_video_file_path(ep, key))

    def __getstate__(self) -> dict:
        # Spawned DataLoader workers (macOS, or an explicit "spawn" context) get a pickled copy: decoders
        # and their lock are per process, so each copy opens its own.
        return {**self.__dict__, "_decoders": None}

    def _relative(self, indices: list[int]) -> list[int]:
        mapping = self._absolute_to_relative_idx
        return indices if mapping is None else [mapping[i] for i in indices]

    def _query_hf_dataset(self, query_indices: dict[str, list[int]]) -> dict:
        result: dict = {}
        rest = {}
        for key, q_idx in query_indices.items():
            if key in self._meta.video_keys:
                continue
            column = self._columns.get(key)
            if column is None:
                rest[key] = q_idx
            else:
                result[key] = column[self._relative(q_idx)]
        if rest:
            result.update(super()._query_hf_dataset(rest))
        return result

    def _get_query_timestamps(self, current_ts: float, query_indices: dict[str, list[int]] | None = None):
        column = self._columns.get("timestamp")
        if column is None:
            return super()._get_query_timestamps(current_ts, query_indices)
        out = {}
        for key in self._meta.video_keys:
            if query_indices is not None and key in query_indices:
                out[key] = column[self._relative(query_indices[key])].tolist()
            else:
                out[key] = [current_ts]
        return out

    def _query_videos(self, query_timestamps: dict[str, list[float]], ep_idx: int) -> dict[str, torch.Tensor]:
        fast = {k: ts for k, ts in query_timestamps.items() if k in self._rgb_video_keys}
        other = {k: ts for k, ts in query_timestamps.items() if k not in fast}
        if self._frame_cache is None and self._video_backend != "torchcodec":
            fast, other = {}, query_timestamps
        out = super()._query_videos(other, ep_idx) if other else {}
        for key, timestamps in fast.items():
            out[key] = self._rgb_frames(key, ep_idx, timestamps)
        return out

    def _rgb_frames(self, key: str, ep_idx: int, timestamps: list[float]) -> torch.Tensor:
        shifted = [self._video_from_ts[(ep_idx, key)] + ts for ts in timestamps]
        rel = self._video_rel[(ep_idx, key)]
        if self._frame_cache is not None:
            frames = self._frame_cache.frames(rel, shifted, self._tolerance_s)
        else:
            if self._decoders is None:
                self._decoders = PathDecoderCache()
            frames = decode_frames(
                self._decoders.get_decoder(str(self.root / rel)), shifted, self._tolerance_s
            )
        if not self._return_uint8:
            # Bit-identical to lerobot's (frames / 255.0).type(float32), several times faster.
            frames = frames.to(torch.float32).div_(255.0)
        return frames.squeeze(0)


def use_fast_reader(dataset: Any, cache: FrameCache | None = None) -> Any:
    """Swap the dataset's reader for a `KuavoReader`; the dataset object (sampler inputs, meta, episodes)
    is otherwise untouched. Returns the same dataset."""
    dataset.reader = KuavoReader.adopt(dataset._ensure_reader(), cache=cache)
    return dataset
