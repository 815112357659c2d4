"""`kuavo convert --profile`: where a conversion spends its time, per stage, summed over bags.

Stages run in the worker's own threads (bag reading, JPEG / depth PNG decoding, resizing, depth
normalisation, lerobot's add_frame / save_episode / finalize) are timed with the CPU clock of the
thread that runs them. Video encoding runs in lerobot's encoder threads, which kuavo does not own:
it is the process CPU time left over once every timed stage is taken away, so nothing is counted
twice and the rows add up to the worker's CPU time.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from contextlib import contextmanager

# Display order and the words shown for each stage.
STAGES = {
    "bag_read": "bag reading (index, raw messages, deserialise)",
    "jpeg_decode": "JPEG decode (colour)",
    "depth_decode": "depth PNG decode",
    "resize": "resize",
    "depth_normalise": "depth clip + per-frame normalise",
    "add_frame": "lerobot add_frame (validate, queue to encoder)",
    "encoder_wait": "waiting for the video encoder (back-pressure)",
    "save_episode": "lerobot save_episode (parquet, stats, video flush)",
    "create_finalize": "lerobot create + finalize",
    "video_encode": "video encode + per-frame video stats (lerobot encoder threads)",
    "merge": "merge (lerobot aggregate_datasets, main process)",
}


class Profile:
    """Per-stage CPU seconds; `enabled=False` makes every call a near no-op."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.cpu: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()
        self._start_cpu = 0.0
        self._start_wall = 0.0
        self.wall = 0.0
        self.process_cpu = 0.0

    @contextmanager
    def stage(self, name: str):
        if not self.enabled:
            yield
            return
        start = time.thread_time()
        try:
            yield
        finally:
            self.add(name, time.thread_time() - start)

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.cpu[name] += seconds

    def start(self) -> None:
        self._start_cpu = time.process_time()
        self._start_wall = time.perf_counter()

    def stop(self) -> None:
        """Close the window: the CPU time no stage claimed is lerobot's encoder threads."""
        self.wall = time.perf_counter() - self._start_wall
        self.process_cpu = time.process_time() - self._start_cpu
        if self.enabled:
            claimed = sum(v for k, v in self.cpu.items() if k != "video_encode")
            self.cpu["video_encode"] = max(0.0, self.process_cpu - claimed)

    def to_dict(self) -> dict:
        return {
            "cpu_s": {k: round(v, 4) for k, v in self.cpu.items()},
            "wall_s": round(self.wall, 4),
            "process_cpu_s": round(self.process_cpu, 4),
        }


def merge_profiles(profiles: list[dict], merge_cpu_seconds: float = 0.0) -> dict:
    """Sum the workers' per-bag profiles (plus the merge) into one table: stage -> CPU s and share."""
    cpu: dict[str, float] = defaultdict(float)
    wall = process = 0.0
    for p in profiles:
        for k, v in p.get("cpu_s", {}).items():
            cpu[k] += v
        wall += p.get("wall_s", 0.0)
        process += p.get("process_cpu_s", 0.0)
    if merge_cpu_seconds:
        cpu["merge"] += merge_cpu_seconds
        process += merge_cpu_seconds
    total = sum(cpu.values()) or 1.0
    rows = [
        {"stage": k, "what": STAGES.get(k, k), "cpu_s": round(cpu[k], 3), "share": round(cpu[k] / total, 3)}
        for k in [*STAGES, *sorted(set(cpu) - set(STAGES))]
        if k in cpu
    ]
    return {"stages": rows, "cpu_s": round(process, 3), "worker_wall_s": round(wall, 3)}
