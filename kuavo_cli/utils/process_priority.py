"""Process priority: undo the real-time (SCHED_FIFO) scheduling lerobot's AV1 encoder leaves behind."""

from __future__ import annotations

import os


def normal_scheduling() -> str:
    """Run (and fork every subprocess) at normal priority. lerobot's AV1 encoder (SVT-AV1) switches the
    thread that encodes to SCHED_FIFO 99 when it is allowed to (root); processes forked later inherit it,
    and busy real-time threads starve everything else on the machine."""
    if not hasattr(os, "sched_getscheduler"):
        return "unknown"
    if os.sched_getscheduler(0) != os.SCHED_OTHER:
        try:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        except OSError:
            return "real-time (could not reset)"
    return "normal"
