"""Recognise the failures the seed README troubleshoots and answer each with its fix, as one line.

`advice_for(exc, cfg)` is called by the trainer where a run fails; `cfg` is the resolved config as a plain
mapping (`dump_config(cfg)`), optionally with `num_processes` when it differs from `gpus`. No torch import:
exceptions are recognised by type name and message, so this works on whatever the trainer caught.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any


class LowGpuUtilization(Exception):  # noqa: N818  (a finding, not a failure; raised only to ask for advice)
    """The training loop waited for data `data_wait_fraction` of the time (0..1); see `advice_for`."""

    def __init__(self, data_wait_fraction: float):
        super().__init__(f"the GPU waited for data {data_wait_fraction:.0%} of the time")
        self.data_wait_fraction = data_wait_fraction


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then its causes/contexts (the trainer may wrap the original error)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _processes(cfg: dict[str, Any]) -> int:
    return int(cfg.get("num_processes") or cfg.get("gpus") or 1)


def _cuda_oom(exc: BaseException, cfg: dict[str, Any]) -> str | None:
    text = str(exc)
    if not (
        type(exc).__name__ == "OutOfMemoryError"
        or "CUDA out of memory" in text
        or "CUDA error: out of memory" in text
    ):
        return None
    batch, accum, procs = (
        int(cfg.get("batch_size", 8)),
        int(cfg.get("gradient_accumulation_steps", 1)),
        _processes(cfg),
    )
    effective = batch * procs * accum
    smaller = next((d for d in range(batch // 2, 0, -1) if batch % d == 0), None) if batch > 1 else None
    extra = "export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"
    if cfg.get("mixed_precision", "no") == "no":
        extra += "; mixed_precision: bf16 halves activation memory"
    if smaller is None:
        return (
            f"GPU out of memory at batch_size 1: {extra}; policy.gradient_checkpointing: true where the policy "
            "has it; or a smaller policy (fewer layers, smaller chunk_size)"
        )
    new_accum = accum * batch // smaller
    return (
        f"GPU out of memory: lower batch_size and raise gradient_accumulation_steps to keep the effective batch "
        f"{effective}: --batch-size {smaller} --grad-accum {new_accum} ({smaller} x {procs} GPU(s) x {new_accum} "
        f"= {smaller * procs * new_accum}); also {extra}; lower num_workers if host memory is short"
    )


def _cpu_oom(exc: BaseException, cfg: dict[str, Any]) -> str | None:
    text = str(exc)
    if "DefaultCPUAllocator: can't allocate memory" not in text and not isinstance(exc, MemoryError):
        return None
    workers = int(cfg.get("num_workers", 4))
    return (
        f"host memory exhausted: lower num_workers (now {workers}; each worker holds decoded frames) "
        f"and batch_size (now {cfg.get('batch_size', 8)}), raising gradient_accumulation_steps to keep the effective batch"
    )


def _ddp_unused(exc: BaseException, cfg: dict[str, Any]) -> str | None:
    if "Expected to have finished reduction in the prior iteration" not in str(exc):
        return None
    if not cfg.get("find_unused_parameters", True):
        return (
            "DDP found parameters that got no gradient: set find_unused_parameters: true in the config "
            "(or --set find_unused_parameters=true)"
        )
    return (
        "DDP found parameters that got no gradient although find_unused_parameters is true: part of the policy's "
        "output does not reach the loss (conditional paths); rerun with TORCH_DISTRIBUTED_DEBUG=DETAIL to name them"
    )


def _nccl(exc: BaseException, cfg: dict[str, Any]) -> str | None:
    text = str(exc)
    if "NCCL" not in text and "ProcessGroupNCCL" not in type(exc).__name__:
        return None
    if "Watchdog caught collective operation timeout" in text or "timed out" in text.lower():
        return (
            "a GPU process waited too long for the others (one rank stalled or crashed first: read its log above); "
            "rerun with NCCL_DEBUG=INFO; on PCIe consumer GPUs try NCCL_P2P_DISABLE=1"
        )
    return "NCCL failed between GPUs: rerun with NCCL_DEBUG=INFO; on PCIe consumer GPUs try NCCL_P2P_DISABLE=1; check `kuavo doctor`"


def _torchcodec(exc: BaseException, cfg: dict[str, Any]) -> str | None:
    text = str(exc)
    if "libtorchcodec" not in text and "Could not load torchcodec" not in text:
        return None
    return "torchcodec cannot load FFmpeg: run `kuavo doctor` for the FFmpeg fix, or set dataset.video_backend: pyav"


def _low_utilisation(exc: BaseException, cfg: dict[str, Any]) -> str | None:
    if not isinstance(exc, LowGpuUtilization):
        return None
    workers, prefetch, procs = (
        int(cfg.get("num_workers", 4)),
        int(cfg.get("prefetch_factor", 2)),
        _processes(cfg),
    )
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    room = max(cores // procs - 1, 1)  # leave a core per process for the training loop
    target = min(max(workers * 2, 4), 8, room)
    if target > workers:
        step = f"raise num_workers from {workers} to {target} (4-8 per GPU; {cores} cores for {procs} process(es))"
    else:
        step = f"num_workers {workers} already uses the {cores} cores; raise prefetch_factor (now {prefetch})"
    return (
        f"{exc}: {step}; persistent workers are on in multi-GPU runs; smaller camera images decode faster "
        "(see docs/troubleshooting.md)"
    )


_RECOGNISERS: list[Callable[[BaseException, dict[str, Any]], str | None]] = [
    _cuda_oom,
    _cpu_oom,
    _ddp_unused,
    _nccl,
    _torchcodec,
    _low_utilisation,
]


def advice_for(exc: BaseException, cfg_dict: dict[str, Any] | None = None) -> str | None:
    """One line saying how to fix `exc` for this config, or None when it is not a known case."""
    cfg = cfg_dict or {}
    for err in _chain(exc):
        for recognise in _RECOGNISERS:
            advice = recognise(err, cfg)
            if advice:
                return advice
    return None
