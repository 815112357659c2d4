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

This module holds the layout (names, fingerprint, manifest) and the read side (`FrameCache`);
kuavo_cli/data/frame_cache_build.py writes a cache, kuavo_cli/data/frame_cache_plan.py sizes one before
anything is written (sizes are exact, so a cache that would not fit is refused first).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kuavo_cli.data.frame_cache_resize import CacheResize
from kuavo_cli.errors import KuavoError, UsageError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


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


# ---------------------------------------------------------------- manifest
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


def decode_error(root: Path, video: VideoFile, err: Exception) -> KuavoError:
    """A video the cache cannot decode, named, with the fix (the plan and the builder both open them)."""
    first = str(err).splitlines()[0] if str(err) else repr(err)
    return KuavoError(
        f"cannot decode {root / video.rel_path}: {first}",
        "check the file (kuavo inspect DATASET) or re-download / re-convert the dataset",
    )
