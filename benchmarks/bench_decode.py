#!/usr/bin/env python
"""Random-access decode cost of AV1 vs H.264 (vs a native frame cache) on camera-like content.

The synthetic Kuavo dataset draws flat discs, which every codec compresses to almost nothing and decodes
unusually fast, so it cannot say what a codec costs on real camera frames. This clip is closer: a slow
pan over a photograph (matplotlib's sample `grace_hopper.jpg`, 512x600, upscaled) plus per-frame sensor
noise, at 640x480 and 10 fps, encoded with lerobot's own `encode_video_frames` and encoder defaults for
each codec (GOP 2, crf 30), and with `kuavo convert --vcodec h264`'s settings. For each video it
reports bytes per frame and the CPU milliseconds per frame of lerobot's access pattern (torchcodec,
approximate seek mode, one `get_frames_at([i])` per random frame, one decoder thread); CPU time, not wall
time, so the figure holds on a loaded machine.

Usage: .venv/bin/python benchmarks/bench_decode.py [--frames 200] [--out outputs/bench-decode] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# name -> lerobot encoder settings: its defaults for each codec (GOP 2, crf 30), and kuavo convert's H.264
# (`kuavo_cli.convert.config`), which is what `kuavo convert --vcodec h264` writes.
from kuavo_cli.convert.config import H264_CRF, H264_PRESET  # noqa: E402

CODECS = {
    "libsvtav1": {"vcodec": "libsvtav1"},
    "h264": {"vcodec": "h264"},
    "h264-kuavo": {"vcodec": "h264", "preset": H264_PRESET, "crf": H264_CRF},
}


def camera_like_frames(n: int, size: tuple[int, int] = (480, 640), seed: int = 0):
    """n HWC uint8 frames: a pan over a photo plus Gaussian sensor noise (sigma 3 levels)."""
    import matplotlib.cbook
    import numpy as np
    from PIL import Image

    photo = Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB")
    h, w = size
    big = np.asarray(photo.resize((int(w * 1.5), int(h * 1.5)), Image.BILINEAR))
    rng = np.random.default_rng(seed)
    for i in range(n):
        x, y = int((w * 0.5) * i / max(n - 1, 1)), int((h * 0.25) * (0.5 + 0.5 * np.sin(i / 15)))
        crop = big[y : y + h, x : x + w].astype(np.int16) + rng.normal(0, 3, (h, w, 3)).astype(np.int16)
        yield np.clip(crop, 0, 255).astype(np.uint8)


def encode(frames_dir: Path, codec: str, out: Path) -> Path:
    """The clip encoded with the settings CODECS names `codec`."""
    from lerobot.configs.video import RGBEncoderConfig
    from lerobot.datasets.video_utils import encode_video_frames

    from kuavo_cli.utils.process_priority import normal_scheduling

    video = out / f"clip-{codec}.mp4"
    encode_video_frames(
        frames_dir, video, fps=10, video_encoder=RGBEncoderConfig(**CODECS[codec]), overwrite=True
    )
    normal_scheduling()  # SVT-AV1 leaves the process real-time (SCHED_FIFO) when run as root
    return video


def decode_cost(video: Path, samples: int) -> dict:
    from torchcodec.decoders import VideoDecoder

    decoder = VideoDecoder(str(video), seek_mode="approximate", num_ffmpeg_threads=1)
    n = decoder.metadata.num_frames
    picks = [random.Random(1).randrange(n) for _ in range(samples)]
    decoder.get_frames_at(picks[:2])
    cpu0 = time.process_time()
    for index in picks:
        decoder.get_frames_at([index])
    cpu_ms = 1000 * (time.process_time() - cpu0) / samples
    return {"codec": decoder.metadata.codec, "frames": n, "bytes_per_frame": round(video.stat().st_size / n),
            "cpu_ms_per_frame": round(cpu_ms, 3)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200, help="frames in the clip")
    parser.add_argument("--samples", type=int, default=200, help="random frames decoded per codec")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench-decode"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from PIL import Image

    args.out.mkdir(parents=True, exist_ok=True)
    report = {"content": "pan over grace_hopper.jpg + noise sigma 3, 640x480, 10 fps", "videos": {}}
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        for i, frame in enumerate(camera_like_frames(args.frames)):
            Image.fromarray(frame).save(Path(tmp) / f"frame-{i:06d}.png", compress_level=1)
        for codec in CODECS:
            report["videos"][codec] = decode_cost(encode(Path(tmp), codec, args.out), args.samples)
    report["native_cache_bytes_per_frame"] = 3 * 480 * 640
    (args.out / "report-decode.json").write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for codec, r in report["videos"].items():
            print(
                f"{codec}: {r['bytes_per_frame']} bytes/frame, {r['cpu_ms_per_frame']} CPU ms per random frame"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
