"""MP4 of an episode (the three cameras tiled), written with PyAV, atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kuavo_cli.utils.atomic import atomic_path

CODECS = ("libx264", "h264", "mpeg4")  # the first one this PyAV build has


def write_mp4(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    h2, w2 = h + h % 2, w + w % 2  # yuv420p needs even sizes
    codec = next(c for c in CODECS if c in av.codecs_available)
    with atomic_path(path) as tmp, av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w2, h2, "yuv420p"
        for frame in frames:
            padded = np.zeros((h2, w2, 3), dtype=np.uint8)
            padded[:h, :w] = frame
            for packet in stream.encode(av.VideoFrame.from_ndarray(padded, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
