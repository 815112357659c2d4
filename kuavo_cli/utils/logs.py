"""Logging helpers: silence lerobot's import-time chatter without touching the user's logging."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_logs(level: int = logging.ERROR) -> Iterator[None]:
    """Temporarily raise the root and lerobot log levels (lerobot warns on every config it builds on CPU)."""
    loggers = [logging.getLogger(), logging.getLogger("lerobot")]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.level, level))
    try:
        yield
    finally:
        for lg, lvl in zip(loggers, saved, strict=True):
            lg.setLevel(lvl)
