"""Peak memory of a process tree, sampled: RSS (what `top` shows; shared pages counted once per process),
PSS (shared pages split between the processes that map them: the honest sum for forked DataLoader
workers), and GPU memory per process from nvidia-smi when it is there."""

from __future__ import annotations

import shutil
import subprocess
import threading
from typing import Any

import psutil


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _gpu_mib_by_pid() -> dict[int, float]:
    if shutil.which("nvidia-smi") is None:
        return {}
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    usage: dict[int, float] = {}
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0].isdigit():
            try:
                usage[int(parts[0])] = usage.get(int(parts[0]), 0.0) + float(parts[1])
            except ValueError:
                continue
    return usage


class TreeMemorySampler:
    """`with TreeMemorySampler(pid) as s: ...` then `s.result()`; samples every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.25, gpu: bool = False):
        self.pid = pid
        self.interval = interval
        self.gpu = gpu and shutil.which("nvidia-smi") is not None
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_gpu_mib = 0.0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        rss = pss = 0
        procs = _tree(self.pid)
        for proc in procs:
            try:
                info = proc.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)
        self.peak_processes = max(self.peak_processes, len(procs))
        if self.gpu:
            usage = _gpu_mib_by_pid()
            pids = {p.pid for p in procs}
            self.peak_gpu_mib = max(self.peak_gpu_mib, sum(v for k, v in usage.items() if k in pids))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)
        self.sample()

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "peak_rss_mb": round(self.peak_rss / 1e6, 1),
            "peak_pss_mb": round(self.peak_pss / 1e6, 1),
            "peak_processes": self.peak_processes,
        }
        if self.gpu:
            out["peak_gpu_mb"] = round(self.peak_gpu_mib * 1.048576, 1)
        return out
