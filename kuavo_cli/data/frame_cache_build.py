"""Build the decoded-frame cache (layout and read side: kuavo_cli/data/frame_cache.py): decode every camera
video once, one thread per file, into a staging folder that is renamed into place only when complete, under
a lock so the ranks of a multi-GPU run build it once; older caches of the same dataset are then removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kuavo_cli.data.frame_cache import (
    MANIFEST,
    FrameCache,
    VideoFile,
    cache_path_for,
    decode_error,
    make_manifest,
    manifest_entry,
    manifest_text,
    resize_info,
    video_files,
)
from kuavo_cli.data.frame_cache_plan import check_fits, planned_bytes
from kuavo_cli.data.frame_cache_resize import CacheResize
from kuavo_cli.errors import UsageError
from kuavo_cli.utils import atomic

DECODE_CHUNK = 32  # frames decoded per call: bounds memory for long videos


def _decode_into(
    root: Path,
    video: VideoFile,
    dest: Path,
    advance: Callable[[int], None],
    resize: CacheResize | None = None,
) -> dict[str, Any]:
    """Sequentially decode one video file into <dest>.npy (+ .pts.npy); returns its manifest entry."""
    import torch
    from torchcodec.decoders import VideoDecoder

    path = str(root / video.rel_path)
    # lerobot opens decoders in approximate mode and maps timestamps with that mode's average_fps.
    average_fps = float(VideoDecoder(path, seek_mode="approximate").metadata.average_fps)
    decoder = VideoDecoder(path, seek_mode="exact")
    n = decoder.metadata.num_frames
    h, w = decoder.metadata.height, decoder.metadata.width
    if resize is not None:
        h, w = resize.output_size(h, w)
    frames = np.lib.format.open_memmap(
        dest.with_suffix(".npy"), mode="w+", dtype=np.uint8, shape=(n, 3, h, w)
    )
    pts = np.empty(n, dtype=np.float64)
    for start in range(0, n, DECODE_CHUNK):
        stop = min(start + DECODE_CHUNK, n)
        batch = decoder.get_frames_in_range(start, stop)
        frames[start:stop] = (resize.apply(batch.data) if resize else batch.data).numpy()
        pts[start:stop] = batch.pts_seconds.to(torch.float64).numpy()
        advance(stop - start)
    frames.flush()
    del frames
    np.save(dest.with_suffix(".pts.npy"), pts)
    return manifest_entry(video, dest.name, n, average_fps)


@contextlib.contextmanager
def _build_lock(target: Path) -> Iterator[None]:
    """One builder per cache folder (e.g. every rank of a multi-GPU run asks for the same cache)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class CacheResult:
    path: Path
    built: bool  # False when a valid cache for this fingerprint already existed
    num_frames: int
    bytes: int
    removed_stale: list[str]


def ensure_frame_cache(
    root: Path,
    meta: Any,
    cache_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    threads: int | None = None,
    force: bool = False,
    resize: CacheResize | None = None,
    max_bytes: int | None = None,
) -> CacheResult:
    """Return the cache for this dataset state, building it (atomically) if it does not exist yet
    (or, with `force`, rebuilding it). Refuses, before writing anything, a cache larger than `max_bytes`
    or than the free space of the cache folder's disk."""
    root = Path(root).resolve()
    target = cache_path_for(root, meta, cache_dir, resize)
    videos = video_files(meta)
    if not videos:
        raise UsageError(f"dataset {root} has no camera videos to cache")
    if force or not (target / MANIFEST).exists():  # refuse before creating any folder or lock file
        need = planned_bytes(root, meta, target, resize)
        check_fits(need, target.parent, max_bytes)
    with _build_lock(target):
        if force and target.exists():
            shutil.rmtree(target)
        if (target / MANIFEST).exists():
            cache = FrameCache(target)
            return CacheResult(target, False, cache.manifest["num_frames"], _folder_bytes(target), [])
        check_fits(need, target.parent, max_bytes)  # again: free space may have changed while waiting
        # staged_dir, not mkdtemp: the folder becomes the cache, and mkdtemp would make it 0700
        with atomic.staged_dir(target) as staging:
            entries = _decode_all(root, videos, staging, progress, threads, resize)
            first = np.load(staging / entries[0]["frames"], mmap_mode="r")
            manifest = make_manifest(target, meta, root, entries, list(first.shape[1:]), resize)
            del first
            (staging / MANIFEST).write_text(manifest_text(manifest))
        removed = _remove_stale(target, root, resize)
    return CacheResult(target, True, manifest["num_frames"], _folder_bytes(target), removed)


def _decode_all(root, videos, staging, progress, threads, resize=None) -> list[dict[str, Any]]:
    from torchcodec.decoders import VideoDecoder

    total = 0
    for video in videos:
        try:
            total += (
                VideoDecoder(str(root / video.rel_path), seek_mode="approximate").metadata.num_frames or 0
            )
        except Exception as err:  # a damaged or unreadable video: name it, leave no cache behind
            raise decode_error(root, video, err) from err
    done = 0
    lock = threading.Lock()

    def advance(n: int) -> None:
        nonlocal done
        with lock:
            done += n
            if progress:
                progress(done, total)

    # Decoding releases the GIL: one thread per video file, each with a single-threaded decoder.
    workers = max(1, min(threads or os.cpu_count() or 1, len(videos)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(_decode_into, root, v, staging / f"v{i}", advance, resize)
            for i, v in enumerate(videos)
        ]
        results = []
        for video, future in zip(videos, futures, strict=True):
            try:
                results.append(future.result())
            except Exception as err:
                raise decode_error(root, video, err) from err
        return results


def _remove_stale(current: Path, root: Path, resize: CacheResize | None = None) -> list[str]:
    """Older caches of the same dataset folder (and resolution) are dead weight once the dataset changed."""
    removed = []
    for other in current.parent.iterdir():
        if other == current or not (other / MANIFEST).is_file():
            continue
        try:
            info = json.loads((other / MANIFEST).read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if info.get("dataset_root") == str(root) and info.get("resize") == resize_info(resize):
            shutil.rmtree(other, ignore_errors=True)
            removed.append(str(other))
    return removed


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


@contextlib.contextmanager
def decode_progress(console: Any = None) -> Iterator[Callable[[int, int], None]]:
    """A `progress(done, total)` callback drawing a rich bar on stderr (shown only once decoding starts)."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("[bold]decoding frames"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        transient=True,
    )
    task = None
    start = 0.0

    def report(done: int, total: int) -> None:
        nonlocal task, start
        if task is None:
            progress.start()
            start = time.perf_counter()
            task = progress.add_task("decode", total=total, rate="")
        rate = done / max(time.perf_counter() - start, 1e-9)
        progress.update(task, completed=done, rate=f"{rate:.0f} frames/s")

    try:
        yield report
    finally:
        progress.stop()


def ensure_frame_cache_with_bar(
    root: Path, meta: Any, cache_dir: Path | None = None, console: Any = None, **options: Any
) -> CacheResult:
    """`ensure_frame_cache` (`options`: its force, resize, max_bytes, threads) with a progress bar on stderr."""
    with decode_progress(console) as progress:
        return ensure_frame_cache(root, meta, cache_dir, progress=progress, **options)


def cache_dataset(
    dataset: Path,
    cache_dir: Path | None = None,
    force: bool = False,
    console: Any = None,
    resize: CacheResize | None = None,
    max_bytes: int | None = None,
) -> dict:
    """`kuavo cache`: build (or find) the frame cache of a local LeRobot dataset folder."""
    import time

    from kuavo_cli.data.metadata import open_checked

    meta = open_checked(dataset)  # every file the metadata names present and whole, before decoding
    start = time.perf_counter()
    result = ensure_frame_cache_with_bar(
        dataset, meta, cache_dir, console=console, force=force, resize=resize, max_bytes=max_bytes
    )
    section = {"cache": True, "cache_dir": str(result.path.parent)}
    if resize is not None:
        section["cache_resolution"] = "policy"
    return {
        "cache": str(result.path),
        "built": result.built,
        "frames": result.num_frames,
        "bytes": result.bytes,
        "frame_shape": json_shape(result.path),
        "seconds": round(time.perf_counter() - start, 2),
        "removed_stale": result.removed_stale,
        "config": {"dataset": section},
    }


def json_shape(path: Path) -> list[int]:
    return json.loads((path / MANIFEST).read_text())["frame_shape"]
