"""Camera frames travel as uint8 from the dataset; these helpers make them float32 in [0, 1] at the
cheapest place: on the GPU for GPU training, inside the DataLoader workers' collate for CPU training.
Both give values bit-identical to lerobot's own `(frames / 255.0).type(torch.float32)` on CPU."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import default_collate, get_worker_info


def images_to_float(batch: dict[str, Any], device: torch.device | str) -> dict[str, Any]:
    """uint8 frames -> float32 on `device` after a non-blocking copy (from pinned memory); other tensors
    are left to the preprocessor. A no-op for batches that are float already."""
    device = torch.device(device)
    out = dict(batch)
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and value.dtype == torch.uint8:
            out[key] = value.to(device, non_blocking=True).to(torch.float32).div_(255.0)
    return out


def _is_frames(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and value.dtype == torch.uint8 and value.dim() >= 3


def collate_float_frames(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """default_collate, except uint8 frames are converted while being stacked: one float32 batch tensor
    (in shared memory inside a worker, as default_collate would allocate it), each frame copied in and
    divided in place while still in cache. Saves the per-item float tensors and the stack copy of them."""
    first = items[0]
    frame_keys = [k for k, v in first.items() if _is_frames(v)]
    batch = default_collate([{k: v for k, v in item.items() if k not in frame_keys} for item in items])
    for key in frame_keys:
        shape = (len(items), *first[key].shape)
        numel = int(torch.Size(shape).numel())
        if get_worker_info() is not None:
            storage = torch.empty(0, dtype=torch.float32)._typed_storage()._new_shared(numel, device="cpu")
            out = torch.empty(0, dtype=torch.float32).new(storage).view(shape)
        else:
            out = torch.empty(shape, dtype=torch.float32)
        for i, item in enumerate(items):
            out[i].copy_(item[key]).div_(255.0)
        batch[key] = out
    return {k: batch[k] for k in first}  # lerobot's key order


def make_collate(uint8_frames: bool, to_float: bool):
    """The DataLoader collate_fn: None (PyTorch's default) unless frames come as uint8 and must be float."""
    return collate_float_frames if uint8_frames and to_float else None
