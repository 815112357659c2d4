"""Atomic writes: a reader (or a crash) sees the old file or folder or the new one, never a half-written one.

Every writer here behaves the same way:
- the temp file is created beside the target (same file system, so the final rename is atomic) under a hidden
  name, and removed on any error;
- it gets the permissions a plain `open(path, "w")` would give, 0o666 less the umask (`tempfile.mkstemp`
  makes 0600, which leaves a shared report or config unreadable to the rest of the team);
- its bytes are fsynced before the rename and the folder after it, so after a power loss the target holds
  the old content or the new, not an empty file.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_path",
    "fsync_dir",
    "fsync_tree",
    "replace_dir",
    "save_figure",
    "staged_dir",
    "symlink",
    "write_bytes",
    "write_json",
    "write_text",
]


@contextlib.contextmanager
def atomic_path(path: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """A temp path to write `path` through, for writers that want a file name (matplotlib, PyAV, torch).

    When the block succeeds the temp file is fsynced and renamed to `path`; on any error it is removed and
    `path` is untouched. With `overwrite=False` an existing `path` is never replaced (FileExistsError), even
    one that appears while the block runs.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(path)
    try:
        yield tmp
        _fsync_file(tmp)
        _publish(tmp, path, overwrite)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes, *, overwrite: bool = True) -> Path:
    """Write `data` to `path` atomically (see the module docstring); returns `path`."""
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return path


def write_text(path: str | Path, text: str, *, overwrite: bool = True) -> Path:
    """Write `text` (UTF-8) to `path` atomically; returns `path`."""
    return write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def write_json(path: str | Path, data: Any, *, overwrite: bool = True) -> Path:
    """`data` as indented JSON with a final newline (values JSON cannot hold are written as str)."""
    return write_text(path, json.dumps(data, indent=2, default=str) + "\n", overwrite=overwrite)


def save_figure(fig: Any, path: str | Path, **savefig: Any) -> Path:
    """A matplotlib figure to `path` atomically (format from its suffix); the figure is closed either way."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, **savefig)
    finally:
        plt.close(fig)
    return Path(path)


def symlink(link: str | Path, target: str) -> None:
    """Point `link` at `target` (kept as given, so a relative target stays relative), replacing any old link."""
    link = Path(link)
    tmp = link.with_name(f".{link.name}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)
    fsync_dir(link.parent)


@contextlib.contextmanager
def staged_dir(out: str | Path) -> Iterator[Path]:
    """A hidden folder beside `out` to build it in; swapped in (replacing `out`) when the block succeeds,
    removed on any error, so `out` is the old folder or the complete new one."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = out.parent / f".{out.name}.partial-{secrets.token_hex(4)}"
    stage.mkdir()  # not mkdtemp: that makes 0700, and the folder becomes `out`
    try:
        yield stage
        fsync_tree(stage)
        replace_dir(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def replace_dir(src: Path, dst: Path) -> None:
    """Move the finished folder `src` to `dst` (same file system). An existing `dst` is first renamed aside,
    so at every moment `dst` is either the old folder or the new one, then removed."""
    old = None
    if dst.exists() or dst.is_symlink():
        old = dst.parent / f".{dst.name}.old-{secrets.token_hex(4)}"
        os.replace(dst, old)
    os.replace(src, dst)
    fsync_dir(dst.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def fsync_tree(root: Path) -> None:
    """fsync every file and folder below `root` (before a rename publishes it)."""
    for path in sorted(Path(root).rglob("*")):
        if path.is_file() and not path.is_symlink():
            _fsync_file(path)
        elif path.is_dir() and not path.is_symlink():
            fsync_dir(path)
    fsync_dir(Path(root))


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable; a no-op where folders cannot be fsynced."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems (and platforms) refuse fsync on a folder
        pass
    finally:
        os.close(fd)


def _create_temp(path: Path) -> Path:
    # os.open with mode 0o666 lets the kernel apply the umask (and any default ACL), as open(path, "w") does;
    # reading the umask instead would mean setting it, which is not thread-safe.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        # the target's suffix last: matplotlib picks the image format from it
        tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            os.close(os.open(tmp, flags, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temp name beside {path}")


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _publish(tmp: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails if `path` exists, even one that appeared a moment ago: never clobbers
    except FileExistsError:
        raise
    except OSError:  # file systems without hard links: check, then rename (a narrow race remains)
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(tmp, path)
