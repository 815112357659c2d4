"""Free disk where data and runs go, and CPU cores against DataLoader workers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from kuavo_cli.doctor.base import Check, error, ok, warning

GiB = 2**30
ERROR_BELOW_GIB = 2.0  # a checkpoint or a converted episode batch no longer fits
WARN_BELOW_GIB = 20.0  # one converted sim task plus a few checkpoints


def _existing_ancestor(path: Path) -> Path:
    path = path.expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(path: Path, warn_below_gib: float = WARN_BELOW_GIB) -> Check:
    name = "disk"
    probe = _existing_ancestor(Path(path))
    try:
        usage = shutil.disk_usage(probe)
    except OSError as err:
        return warning(name, f"cannot read free space at {probe}: {err.strerror or err}", f"df -h {probe}")
    free = usage.free / GiB
    detail = f"{path}: {free:.1f} GiB free of {usage.total / GiB:.0f} GiB" + (
        "" if probe == Path(path).expanduser().absolute() else f" (at {probe})"
    )
    fix = f"free space under {probe}, or point data/runs at a bigger disk: export HF_HOME=/big/disk/huggingface, kuavo train ... --set output_dir=/big/disk/runs"
    if free < ERROR_BELOW_GIB:
        return error(name, detail, fix)
    if free < warn_below_gib:
        return warning(name, f"{detail} (under {warn_below_gib:.0f} GiB)", fix)
    return ok(name, detail)


def usable_cores() -> int:
    """Cores this process may run on: CPU affinity, then a cgroup v2 quota, whichever is smaller."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


def check_cpu(num_workers: int, processes: int) -> Check:
    """`num_workers` DataLoader workers per process x processes against the usable cores."""
    cores = usable_cores()
    processes = max(processes, 1)
    wanted = num_workers * processes
    detail = f"{cores} usable cores; num_workers {num_workers} x {processes} process(es) = {wanted} workers"
    per_process = max(cores // processes - 1, 0)  # leave one core per process for the training loop itself
    if wanted > cores:
        return warning(
            "cpu",
            detail + ": more workers than cores, they slow each other down",
            f"kuavo train CONFIG --set num_workers={per_process}",
        )
    if processes > 0 and num_workers == 0 and cores > processes:
        return warning(
            "cpu",
            detail + ": frames are decoded in the training loop, the GPU will wait for data",
            f"kuavo train CONFIG --set num_workers={min(max(per_process, 1), 8)}",
        )
    return ok("cpu", detail)
