"""Time alignment of one bag, exactly as the official `KuavoRosbagReader` (data-format doc §2).

All times are the bag *record* times in integer nanoseconds (the official code uses `t.to_sec()`
floats; integers make ties exact instead of subject to rounding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Alignment:
    stamps: np.ndarray  # (N,) int64 ns: the kept main-camera stamps, one per output frame
    main_frames: int  # messages on the main-camera topic
    decimated: int  # stamps after the end drop and decimation, before the min_end cut
    min_end: int  # earliest last-message time over all topics that have messages

    @property
    def cut_by_min_end(self) -> int:
        return self.decimated - len(self.stamps)


def select_stamps(main_ts: np.ndarray, drop: int, jump: int, topic_last_times: list[int]) -> Alignment:
    """Steps 3-5: drop `drop` frames at each end, keep every `jump`-th, keep stamps strictly < min_end.

    `drop == 0` means no drop: the official Python slice `[0:-0]` would be empty, which is a bug.
    """
    main_ts = np.asarray(main_ts, dtype=np.int64)
    kept = main_ts[drop : len(main_ts) - drop] if drop > 0 else main_ts
    kept = kept[:: max(jump, 1)]
    min_end = min(topic_last_times) if topic_last_times else int(main_ts[-1]) + 1
    stamps = kept[kept < min_end]
    return Alignment(stamps=stamps, main_frames=len(main_ts), decimated=len(kept), min_end=min_end)


def nearest_indices(times: np.ndarray, stamps: np.ndarray) -> np.ndarray:
    """Step 6: for each stamp the index of the message nearest in time, either side, ties to the earlier.

    Same result as `argmin(|times - stamp|)` per stamp (which returns the first minimum), in O(log n).
    """
    times = np.asarray(times, dtype=np.int64)
    stamps = np.asarray(stamps, dtype=np.int64)
    if len(times) == 0:
        raise ValueError("no messages to align")
    right = np.searchsorted(times, stamps, side="left").clip(0, len(times) - 1)
    left = (right - 1).clip(0, len(times) - 1)
    use_left = np.abs(stamps - times[left]) <= np.abs(times[right] - stamps)
    best = np.where(use_left, left, right)
    # With repeated timestamps argmin returns the first of the equal times.
    return np.searchsorted(times, times[best], side="left")
