"""A decoded-frame cache: every frame of every camera video, decoded once, kept on disk as memory-mapped uint8.

Random access into AV1 video costs a seek plus a decode per frame and camera, for every sample of every
epoch; reading the same frame from a page-cached memmap costs a memcpy. The cache is a faithful copy of the
video files: one array per video file (frames x 3 x H x W, decode order) plus the presentation time of each
frame, so lookups use lerobot's own timestamp -> frame arithmetic and its tolerance check.

Layout: <cache_dir>/<dataset folder name>[-<h>x<w>]-<fingerprint[:16]>/manifest.json + v<i>.npy (frames) +
v<i>.pts.npy (seconds). The fingerprint covers info.json, the episode metadata, every video file's size and
mtime, the resize (if any) and this module's format version: any change to the dataset selects a new cache
folder (and removes the old one of the same resolution).
Frames are stored at the video's own resolution (the resolution lerobot trains at), or, with a
`CacheResize`, at the resolution the policy resizes them to (kuavo_cli/data/frame_cache_resize.py).
Sizes are exact and known before decoding (`planned_bytes`), so a cache that would not fit is refused first.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kuavo_cli.data.frame_cache_resize import CacheResize
from kuavo_cli.errors import KuavoError, UsageError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DECODE_CHUNK = 32  # frames decoded per call: bounds memory for long videos
DISK_MARGIN = 512 * 1024**2


def default_cache_dir() -> Path:
    """$KUAVO_CACHE_DIR, else $XDG_CACHE_HOME/kuavo/frames, else ~/.cache/kuavo/frames."""
    if os.environ.get("KUAVO_CACHE_DIR"):
        return Path(os.environ["KUAVO_CACHE_DIR"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "kuavo" / "frames"


# ---------------------------------------------------------------- dataset description
@dataclass(frozen=True)
class VideoFile:
    camera: str
    rel_path: str  # relative to the dataset root, as lerobot's meta.get_video_file_path returns it


def video_files(meta: Any) -> list[VideoFile]:
    """Every (camera, video file) the dataset's episodes point at, in a stable order. Depth videos are
    left out: lerobot decodes those with pyav into a different value range."""
    seen: dict[tuple[str, str], VideoFile] = {}
    rgb_keys = [k for k in meta.video_keys if k not in getattr(meta, "depth_keys", [])]
    for ep in range(meta.total_episodes):
        for key in rgb_keys:
            rel = str(meta.get_video_file_path(ep, key))
            seen.setdefault((key, rel), VideoFile(key, rel))
    return sorted(seen.values(), key=lambda v: (v.camera, v.rel_path))


def fingerprint(root: Path, meta: Any, resize: CacheResize | None = None) -> str:
    """sha256 over what the cached pixels depend on; cheap (stat calls, small metadata files)."""
    h = hashlib.sha256()
    h.update(f"kuavo-frame-cache/{FORMAT_VERSION}".encode())
    if resize is not None:
        h.update(resize.key().encode())
    h.update((root / "meta" / "info.json").read_bytes())
    for path in sorted((root / "meta" / "episodes").rglob("*.parquet")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    for video in video_files(meta):
        st = (root / video.rel_path).stat()
        h.update(f"{video.camera}|{video.rel_path}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:60] or "dataset"


def cache_path_for(root: Path, meta: Any, cache_dir: Path | None, resize: CacheResize | None = None) -> Path:
    # Named by folder and content, not repo id: `kuavo cache DIR` and a training config find the same cache.
    size = f"-{resize.size[0]}x{resize.size[1]}" if resize else ""
    name = f"{_slug(Path(root).resolve().name)}{size}-{fingerprint(root, meta, resize)[:16]}"
    return (cache_dir or default_cache_dir()) / name


# ---------------------------------------------------------------- reading
class FrameCache:
    """Read side. Picklable for DataLoader workers: the memmaps are opened lazily in each process."""

    def __init__(self, path: Path):
        self.path = Path(path)
        manifest_file = self.path / MANIFEST
        if not manifest_file.exists():
            raise UsageError(
                f"{self.path} is not a frame cache (no {MANIFEST})", "build it with `kuavo cache`"
            )
        self.manifest = json.loads(manifest_file.read_text())
        if self.manifest.get("format") != FORMAT_VERSION:
            raise UsageError(f"{self.path} has cache format {self.manifest.get('format')}; rebuild it")
        self._videos = {v["rel_path"]: v for v in self.manifest["videos"]}
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_arrays": {}}

    def _open(self, rel_path: str) -> tuple[np.ndarray, np.ndarray, float]:
        entry = self._videos.get(rel_path)
        if entry is None:
            raise KuavoError(
                f"frame cache {self.path} has no frames of {rel_path}; rebuild it with `kuavo cache`"
            )
        arrays = self._arrays.get(rel_path)
        if arrays is None:
            # copy-on-write: tensors may view the pages directly (no copy), and a stray in-place op on
            # one changes that process's private copy, never the file
            frames = np.load(self.path / entry["frames"], mmap_mode="c")
            pts = np.load(self.path / entry["pts"])
            arrays = self._arrays[rel_path] = (frames, pts)
        return arrays[0], arrays[1], entry["average_fps"]

    def frames(self, rel_path: str, timestamps: list[float], tolerance_s: float):
        """uint8 (T, 3, H, W) for video timestamps; the frame choice and the tolerance check follow
        lerobot's decode_video_frames_torchcodec (index = round(ts * average_fps), then |pts - ts| < tol)."""
        import torch
        from lerobot.datasets.video_utils import FrameTimestampError

        frames, pts, fps = self._open(rel_path)
        indices = [round(ts * fps) for ts in timestamps]
        if min(indices) < 0 or max(indices) >= len(frames):
            raise IndexError(f"frame index out of range for {rel_path}: {indices} (has {len(frames)} frames)")
        loaded = pts[indices]
        gap = np.abs(loaded - np.asarray(timestamps))
        if not (gap < tolerance_s).all():
            raise FrameTimestampError(
                f"query timestamps {timestamps} are more than {tolerance_s}s from the cached frames "
                f"{loaded.tolist()} of {rel_path}"
            )
        if indices == list(range(indices[0], indices[0] + len(indices))):
            # consecutive frames (one frame, or a history window): a view of the page cache; the batch
            # collate then copies each frame once, straight into the shared-memory batch
            return torch.from_numpy(frames[indices[0] : indices[0] + len(indices)])
        return torch.from_numpy(frames[indices])  # fancy indexing copies


# ---------------------------------------------------------------- building
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


def manifest_entry(video: VideoFile, stem: str, num_frames: int, average_fps: float) -> dict[str, Any]:
    return {
        "camera": video.camera,
        "rel_path": video.rel_path,
        "frames": f"{stem}.npy",
        "pts": f"{stem}.pts.npy",
        "num_frames": num_frames,
        "average_fps": average_fps,
    }


def make_manifest(target: Path, meta: Any, root: Path, entries: list[dict], frame_shape: list[int], resize):
    return {
        "format": FORMAT_VERSION,
        "fingerprint": target.name.rsplit("-", 1)[-1],
        "repo_id": meta.repo_id,
        "dataset_root": str(root),
        "frame_shape": frame_shape,
        "resize": resize_info(resize),
        "num_frames": sum(e["num_frames"] for e in entries),
        "videos": entries,
    }


def resize_info(resize: CacheResize | None) -> dict | None:
    return (
        None
        if resize is None
        else {"policy": resize.policy, "function": resize.function, "size": list(resize.size)}
    )


def manifest_text(manifest: dict) -> str:
    return json.dumps(manifest, indent=1)


def npy_bytes(shape: tuple[int, ...], dtype: Any) -> int:
    """Exact size of the .npy file np.save / open_memmap writes for this shape and dtype."""
    import io

    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    buf = io.BytesIO()
    np.lib.format._write_array_header(buf, header, None)  # the writer open_memmap and np.save use
    return buf.tell() + int(np.prod(shape)) * np.dtype(dtype).itemsize


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


def native_size(meta: Any, key: str) -> tuple[int, int]:
    feature = meta.features[key]
    shape, names = feature["shape"], feature.get("names") or []
    return (shape[1], shape[2]) if names and names[0] == "channels" else (shape[0], shape[1])


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
    from kuavo_cli.data.frame_cache_plan import check_fits, planned_bytes

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
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        try:
            entries = _decode_all(root, videos, staging, progress, threads, resize)
            first = np.load(staging / entries[0]["frames"], mmap_mode="r")
            manifest = make_manifest(target, meta, root, entries, list(first.shape[1:]), resize)
            del first
            (staging / MANIFEST).write_text(manifest_text(manifest))
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        removed = _remove_stale(target, root, resize)
    return CacheResult(target, True, manifest["num_frames"], _folder_bytes(target), removed)


def _decode_error(root: Path, video: VideoFile, err: Exception) -> KuavoError:
    first = str(err).splitlines()[0] if str(err) else repr(err)
    return KuavoError(
        f"cannot decode {root / video.rel_path}: {first}",
        "check the file (kuavo inspect DATASET) or re-download / re-convert the dataset",
    )


def _decode_all(root, videos, staging, progress, threads, resize=None) -> list[dict[str, Any]]:
    from torchcodec.decoders import VideoDecoder

    total = 0
    for video in videos:
        try:
            total += (
                VideoDecoder(str(root / video.rel_path), seek_mode="approximate").metadata.num_frames or 0
            )
        except Exception as err:  # a damaged or unreadable video: name it, leave no cache behind
            raise _decode_error(root, video, err) from err
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
                raise _decode_error(root, video, err) from err
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


def ensure_frame_cache_with_bar(
    root: Path,
    meta: Any,
    cache_dir: Path | None = None,
    console: Any = None,
    force: bool = False,
    resize: CacheResize | None = None,
    max_bytes: int | None = None,
) -> CacheResult:
    """`ensure_frame_cache` with a rich progress bar on stderr (shown only while it decodes)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = console or Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]decoding frames"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = None
    start = None

    def report(done: int, total: int) -> None:
        import time

        nonlocal task, start
        if task is None:
            progress.start()
            start = time.perf_counter()
            task = progress.add_task("decode", total=total, rate="")
        rate = done / max(time.perf_counter() - (start or 0), 1e-9)
        progress.update(task, completed=done, rate=f"{rate:.0f} frames/s")

    try:
        return ensure_frame_cache(
            root, meta, cache_dir, progress=report, force=force, resize=resize, max_bytes=max_bytes
        )
    finally:
        progress.stop()
