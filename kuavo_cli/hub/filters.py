"""Pick files out of a repo listing: --task, --source, --episodes, --include, --exclude (all must hold)."""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from dataclasses import dataclass, field

from kuavo_cli.data.schema import SIM_TASKS
from kuavo_cli.errors import UsageError
from kuavo_cli.hub.listing import RemoteFile

SOURCES = ("sim", "real")


def parse_episodes(spec: str | None) -> list[int] | None:
    """'0-99' / '3' / '0-9,20,30-35' -> sorted unique indices; None when not given."""
    if spec is None or not spec.strip():
        return None
    out: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not m:
            raise UsageError(
                f"--episodes {spec!r}: cannot read {part!r}", "use ranges like 0-99, 5 or 0-9,20,30-35"
            )
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise UsageError(
                f"--episodes {spec!r}: range {part} runs backwards", "write the smaller index first"
            )
        out.update(range(lo, hi + 1))
    return sorted(out)


def _task_matcher(selector: str):
    """`1|2|3` -> the sim task folder (or any folder named task<N>...); NAME -> folder name contains NAME."""
    text = selector.strip()
    if text.isdigit():
        number = int(text)
        if number not in SIM_TASKS:
            raise UsageError(
                f"--task {text}: no such task",
                f"use 1, 2 or 3 ({', '.join(SIM_TASKS.values())}) or a folder name",
            )
        exact = SIM_TASKS[number].lower()
        pattern = re.compile(rf"^task0*{number}(?!\d)")
        return lambda component: component == exact or bool(pattern.match(component))
    if not text:
        raise UsageError("--task is empty", "use 1, 2, 3 or a folder name such as TASK1-ToySorting")
    needle = text.lower()
    return lambda component: needle in component


@dataclass
class FileFilter:
    tasks: list[str] = field(default_factory=list)
    source: str | None = None
    episodes: list[int] | None = None
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.source is not None and self.source not in SOURCES:
            raise UsageError(f"--source {self.source!r}: must be sim or real")
        self._task_matchers = [_task_matcher(t) for t in self.tasks]

    @property
    def active(self) -> bool:
        return bool(self.tasks or self.source or self.episodes is not None or self.include or self.exclude)

    def _path_ok(self, f: RemoteFile) -> bool:
        if self.source is not None and f.source != self.source:
            return False
        if self._task_matchers:
            folders = [c.lower() for c in f.path.split("/")[:-1]]
            if not any(m(c) for m in self._task_matchers for c in folders):
                return False
        if self.include and not any(fnmatch.fnmatch(f.path, g) for g in self.include):
            return False
        return not any(fnmatch.fnmatch(f.path, g) for g in self.exclude)

    def select(self, files: list[RemoteFile]) -> list[RemoteFile]:
        """Files passing every filter; --episodes keeps the N-th bags (sorted by name) of each folder."""
        kept = [f for f in files if self._path_ok(f)]
        if self.episodes is None:
            return kept
        wanted = set(self.episodes)
        per_folder: dict[str, list[RemoteFile]] = defaultdict(list)
        for f in kept:
            if f.is_bag:
                per_folder[f.parent].append(f)
        out: list[RemoteFile] = []
        for bags in per_folder.values():
            bags.sort(key=lambda f: f.path)
            out.extend(b for i, b in enumerate(bags) if i in wanted)
        return sorted(out, key=lambda f: f.path)

    def describe(self) -> str:
        bits = [f"--task {t}" for t in self.tasks]
        if self.source:
            bits.append(f"--source {self.source}")
        if self.episodes is not None:
            bits.append(f"--episodes {format_ranges(self.episodes)}")
        bits += [f"--include {g}" for g in self.include] + [f"--exclude {g}" for g in self.exclude]
        return " ".join(bits) or "(no filters)"


def format_ranges(values: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> '0-2,5,7-8'."""
    runs: list[list[int]] = []
    for v in sorted(values):
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    return ",".join(f"{a}-{b}" if a != b else str(a) for a, b in runs)
