"""`kuavo cache --plan`: the ways to feed this dataset to training, the disk each needs on this machine,
and a refusal, before anything is written, of a cache that would not fit.

Sizes are exact, not estimates: each cache file is a .npy of known shape (frames x 3 x h x w uint8, plus
one float64 timestamp per frame) and the manifest is built from the same numbers the builder writes, so
`planned_bytes` equals the bytes of the finished cache folder (tests/test_frame_cache_plan.py checks it).
Frame counts come from each video's container index (torchcodec exact mode scans it; nothing is decoded).
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kuavo_cli.data.frame_cache import (
    cache_path_for,
    decode_error,
    default_cache_dir,
    make_manifest,
    manifest_entry,
    manifest_text,
    npy_bytes,
    video_files,
)
from kuavo_cli.data.frame_cache_resize import CacheResize, policy_resize, resizing_policies
from kuavo_cli.errors import UsageError
from kuavo_cli.hub.sizes import human_bytes

DISK_MARGIN = 512 * 1024**2  # free space a cache must leave on its disk
NATIVE_INPUTS = "identical"  # to lerobot's, bit for bit
POLICY_INPUTS = "within 0.5/255"  # of lerobot's after the policy's own resize: the uint8 rounding


def _video_facts(root: Path, meta: Any) -> list[tuple[Any, int, float, int, int]]:
    """(video, num_frames, average_fps, height, width) per cached video file, as the builder sees them."""
    from torchcodec.decoders import VideoDecoder

    facts = []
    for video in video_files(meta):
        path = str(root / video.rel_path)
        try:
            approx = VideoDecoder(path, seek_mode="approximate").metadata
            exact = VideoDecoder(path, seek_mode="exact").metadata
        except Exception as err:  # a damaged or unreadable video: name it (before anything is written)
            raise decode_error(root, video, err) from err
        facts.append((video, int(exact.num_frames), float(approx.average_fps), exact.height, exact.width))
    return facts


def planned_bytes(root: Path, meta: Any, target: Path, resize: CacheResize | None) -> int:
    """Bytes of the cache folder `target` once built: frames, timestamps and manifest."""
    root = Path(root).resolve()
    total, entries, first_shape = 0, [], None
    for i, (video, n, fps, h, w) in enumerate(_video_facts(root, meta)):
        if resize is not None:
            h, w = resize.output_size(h, w)
        first_shape = first_shape or [3, h, w]
        total += npy_bytes((n, 3, h, w), "uint8") + npy_bytes((n,), "float64")
        entries.append(manifest_entry(video, f"v{i}", n, fps))
    manifest = make_manifest(target, meta, root, entries, first_shape or [], resize)
    return total + len(manifest_text(manifest).encode())


def free_bytes(folder: Path) -> int:
    """Free space of the disk `folder` is (or will be) on."""
    folder = Path(folder).resolve()
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def check_fits(need: int, folder: Path, max_bytes: int | None) -> None:
    if max_bytes is not None and need > max_bytes:
        raise UsageError(
            f"the frame cache needs {human_bytes(need)} ({need} bytes), more than --max-disk {human_bytes(max_bytes)}",
            "raise --max-disk, or use a smaller cache (see `kuavo cache DATASET --plan`)",
        )
    free = free_bytes(folder)
    if need + DISK_MARGIN > free:
        raise UsageError(
            f"the frame cache needs {human_bytes(need)} but {folder} has {human_bytes(free)} free",
            "pass --out DIR on a bigger disk (or set dataset.cache_dir), or see `kuavo cache DATASET --plan`",
        )


@dataclass
class CacheOption:
    name: str  # video | native | policy
    config: dict  # the dataset section that selects it
    bytes: int
    fits: bool
    frame_shape: list[int] | None
    model_inputs: str
    note: str


def plan_cache(
    dataset: Path, policy_cfg: Any = None, cache_dir: Path | None = None, max_bytes: int | None = None
) -> dict:
    """Every option for this dataset (and policy) with the disk it needs and whether it fits here."""
    from kuavo_cli.data.metadata import open_checked

    dataset = Path(dataset)
    meta = open_checked(dataset)
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    free = free_bytes(cache_dir)
    facts = _video_facts(dataset.resolve(), meta)
    codecs = sorted(
        {
            str(f.get("info", {}).get("video.codec"))
            for f in meta.features.values()
            if f.get("dtype") == "video"
        }
    )

    def fits(n: int) -> bool:
        return n + DISK_MARGIN <= free and (max_bytes is None or n <= max_bytes)

    native = planned_bytes(dataset, meta, cache_path_for(dataset, meta, cache_dir), None)
    video_note = f"decode the {'/'.join(codecs)} videos for every sample (no extra disk)"
    if "av1" in codecs:  # the convert-time alternative, measured in docs/performance.md
        video_note += (
            "; converted with `kuavo convert --vcodec h264` they decode 1.4-1.6x cheaper, 1.4-3.6x larger"
        )
    options = [
        CacheOption("video", {"cache": False}, 0, True, None, NATIVE_INPUTS, video_note),
        CacheOption("native", {"cache": True, "cache_resolution": "native"}, native, fits(native),
                    [3, facts[0][3], facts[0][4]] if facts else None, NATIVE_INPUTS,
                    "decoded frames at the video's resolution (memory-mapped)"),
    ]  # fmt: skip
    resize = policy_resize(policy_cfg) if policy_cfg is not None else None
    if resize is not None:
        target = cache_path_for(dataset, meta, cache_dir, resize)
        size = planned_bytes(dataset, meta, target, resize)
        options.append(CacheOption(
            "policy", {"cache": True, "cache_resolution": "policy"}, size, fits(size), [3, *resize.size],
            POLICY_INPUTS, f"frames resized once by {resize.policy}'s own {resize.function}"))  # fmt: skip
    elif policy_cfg is not None:
        options.append(CacheOption(
            "policy", {"cache": True, "cache_resolution": "policy"}, 0, False, None, "-",
            f"{policy_cfg.type} consumes the full frames (policies that resize: {resizing_policies()})"))  # fmt: skip
    fastest = next((o.name for o in reversed(options) if o.fits and (o.bytes or o.name == "video")), "video")
    return {
        "dataset": str(dataset),
        "frames": meta.total_frames,
        "video_files": len(facts),
        "cameras": sorted({f[0].camera for f in facts}),
        "codecs": codecs,
        "video_bytes": sum((dataset / f[0].rel_path).stat().st_size for f in facts),
        "cache_dir": str(cache_dir),
        "free_bytes": free,
        "max_bytes": max_bytes,
        "policy": getattr(policy_cfg, "type", None),
        "options": [asdict(o) for o in options],
        "recommended": fastest,
    }


def policy_from_spec(spec: str | None) -> Any:
    """--policy: a policy type (pi05, act, ...) or a `kuavo train` config YAML -> lerobot policy config."""
    if spec is None:
        return None
    from kuavo_cli.config.policy import PolicySection

    if spec.endswith((".yaml", ".yml")) or Path(spec).is_file():
        from kuavo_cli.config.loader import load_train_config

        return load_train_config(Path(spec)).policy.to_lerobot(device="cpu")
    try:
        return PolicySection.model_validate({"type": spec}).to_lerobot(device="cpu")
    except ValueError as err:
        raise UsageError(
            f"--policy {spec!r}: {str(err).splitlines()[-1]}", "a policy type or a config"
        ) from None


def resize_for(resolution: str, policy_cfg: Any) -> CacheResize | None:
    """The CacheResize for `dataset.cache_resolution` / `kuavo cache --resolution`."""
    if resolution == "native":
        return None
    if policy_cfg is None:
        raise UsageError("--resolution policy needs --policy (a policy type or a train config)")
    resize = policy_resize(policy_cfg)
    if resize is None:
        raise UsageError(
            f"cache_resolution: policy, but {policy_cfg.type} consumes the full frames (no resize to cache)",
            f"use cache_resolution: native; policies that resize: {resizing_policies()}",
        )
    return resize
