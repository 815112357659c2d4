"""Download progress on stderr: live rich bars (per file + total) on a terminal, one line per file otherwise.

huggingface_hub reports bytes through a `tqdm_class`; `bar_class()` returns a tiny tqdm look-alike that
forwards those bytes here, and aborts the transfer when the user pressed Ctrl-C (`cancel`).
"""

from __future__ import annotations

import threading
from typing import Any

from kuavo_cli.hub.sizes import human_bytes


class Cancelled(Exception):
    """Raised inside a download thread after Ctrl-C so huggingface_hub drops its temp file and returns."""


class DownloadProgress:
    def __init__(self, console, total_files: int, total_bytes: int, live: bool | None = None):
        self.console = console
        self.total_files = total_files
        self.total_bytes = total_bytes
        self.cancel = threading.Event()
        self._lock = threading.Lock()
        self._done = 0
        self.live = console.is_terminal if live is None else live
        self._progress: Any = None
        self._total_task: Any = None
        self._tasks: dict[str, Any] = {}
        self._seen: dict[str, int] = {}

    def __enter__(self) -> DownloadProgress:
        if self.live:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}", justify="left"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self._progress.start()
            self._total_task = self._progress.add_task(self._total_label(), total=self.total_bytes)
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()

    def _total_label(self) -> str:
        return f"total ({self._done}/{self.total_files} files)"

    # ---- called from download threads ---------------------------------------------------------------
    def start_file(self, path: str, size: int) -> None:
        with self._lock:
            self._seen[path] = 0
            if self._progress is not None:
                label = path if len(path) <= 48 else "…" + path[-47:]
                self._tasks[path] = self._progress.add_task(label, total=size)

    def advance(self, path: str, n: float) -> None:
        if self.cancel.is_set():
            raise Cancelled(path)
        with self._lock:
            self._seen[path] = self._seen.get(path, 0) + int(n)
            if self._progress is not None:
                if path in self._tasks:
                    self._progress.advance(self._tasks[path], n)
                self._progress.advance(self._total_task, n)

    def finish_file(self, path: str, size: int, ok: bool, note: str = "") -> None:
        with self._lock:
            self._done += 1
            if self._progress is not None:
                task = self._tasks.pop(path, None)
                if task is not None:
                    self._progress.remove_task(task)
                # Count what the hub client did not report (e.g. a file copied from the local cache).
                self._progress.advance(self._total_task, max(0, size - self._seen.pop(path, 0)))
                self._progress.update(self._total_task, description=self._total_label())
            else:
                self._seen.pop(path, None)
            word = "fetched" if ok else "FAILED "
            extra = f" ({note})" if note else ""
            line = f"[{self._done}/{self.total_files}] {word} {path} ({human_bytes(size)}){extra}"
            if self._progress is not None:
                self._progress.console.print(line, highlight=False)
            else:
                self.console.print(line, highlight=False, markup=False)

    def bar_class(self, path: str):
        """A tqdm stand-in bound to one file (huggingface_hub calls it with tqdm's keyword arguments)."""
        owner = self

        class _Bar:
            # Having `update_transfer` makes huggingface_hub's Xet reporter share one bar for file bytes and
            # network bytes (instead of two bars), so only file bytes reach `update` and nothing is counted twice.
            def __init__(self, *args: Any, **kwargs: Any):
                self.n = kwargs.get("initial", 0) or 0
                self.total = kwargs.get("total")

            def __enter__(self):
                return self

            def __exit__(self, *exc: Any) -> None:
                return None

            def update(self, n: float | None = 1) -> None:
                self.n += n or 0
                owner.advance(path, n or 0)

            def update_transfer(self, n: float | None = 1) -> None:
                return None

            def close(self) -> None:
                return None

            def refresh(self) -> None:
                return None

            def set_description(self, *args: Any, **kwargs: Any) -> None:
                return None

            def set_postfix_str(self, *args: Any, **kwargs: Any) -> None:
                return None

            def set_transfer_postfix_str(self, *args: Any, **kwargs: Any) -> None:
                return None

        return _Bar
