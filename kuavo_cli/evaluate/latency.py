"""Inference latency per `select_action` tick and peak memory (process RSS; CUDA allocator when on GPU)."""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np

PROC_STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def percentiles(ms: list[float]) -> dict:
    if not ms:
        return {"n": 0, "mean_ms": None, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    arr = np.asarray(ms, dtype=float)
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {
        "n": int(arr.size),
        "mean_ms": float(arr.mean()),
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "max_ms": float(arr.max()),
    }


def latency_summary(ticks_ms: list[float], ran_model: list[bool], fps: float) -> dict:
    """Percentiles over all ticks but the very first (lazy init, cudnn autotune), which is reported apart.

    A tick that ran the network costs far more than one that popped a queued action, so both kinds are
    also summarised separately. The control rate a synchronous loop sustains is bounded by its slow ticks:
    `control_rate_hz_p99` is what 99 % of ticks allow; `realtime` says whether that meets the recording rate.
    """
    first = ticks_ms[0] if ticks_ms else None
    rest, rest_ran = ticks_ms[1:], ran_model[1:]
    model = [t for t, r in zip(rest, rest_ran, strict=True) if r]
    queued = [t for t, r in zip(rest, rest_ran, strict=True) if not r]
    overall = percentiles(rest)
    budget_ms = 1000.0 / fps
    return {
        "first_call_ms": first,
        **overall,
        "model_calls": percentiles(model),
        "queue_pops": percentiles(queued),
        "recording_hz": fps,
        "control_rate_hz_mean": 1000.0 / overall["mean_ms"] if overall["mean_ms"] else None,
        "control_rate_hz_p99": 1000.0 / overall["p99_ms"] if overall["p99_ms"] else None,
        "realtime": bool(overall["p99_ms"] is not None and overall["p99_ms"] <= budget_ms),
        "budget_ms": budget_ms,
    }


def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark of this process (Linux >= 4.0), so each checkpoint gets its own."""
    try:
        CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """VmHWM from /proc (resettable); ru_maxrss (whole process life) where /proc is missing."""
    try:
        for line in PROC_STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def memory_summary(device: str, rss_was_reset: bool) -> dict:
    out: dict = {
        "peak_rss_mb": peak_rss_mb(),
        "rss_scope": "this checkpoint" if rss_was_reset else "whole process",
        "cuda_max_allocated_mb": None,
    }
    if device.startswith("cuda"):
        import torch

        out["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out
