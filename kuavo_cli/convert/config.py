"""`ConvertConfig`: every option of `kuavo convert`, also the `convert:` section of the training config.

Defaults reproduce the official converter (KDC `configs/data/KuavoRosbag2Lerobot.yaml`, see
shared/docs/kuavo-data-format.md §2-§3): 10 fps from the 30 fps main camera, 10 main-camera frames
dropped at each end, both arms, depth on, 640x480, AV1.
"""

from __future__ import annotations

import os
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kuavo_cli.utils.image_size import parse_wxh

Arms = Literal["both", "left", "right"]
GripperChoice = Literal["auto", "rq2f85", "claw", "dexhand"]

# Options that change what a converted episode contains: a staged episode is reused by --resume only
# when all of these match the run that staged it.
OUTPUT_FIELDS = (
    "task_description",
    "fps",
    "camera_fps",
    "drop_frames",
    "depth",
    "depth_range",
    "arms",
    "gripper",
    "size",
    "vcodec",
    "gop",
    "crf",
    "preset",
    "streaming_encoding",
)
VideoCodec = Literal["libsvtav1", "h264", "hevc"]
# kuavo's H.264 settings (benchmarks/bench_convert.py, docs/convert.md): libx264's cheapest preset (a fifth
# of SVT-AV1's CPU per frame), at the crf that keeps decoded frames within 1 dB PSNR of lerobot's AV1
# (crf 30) on both test contents: camera-like (35.9 vs 36.4 dB, 1.4x the bytes) and noisy texture
# (35.9 vs 33.2 dB, 3.5x the bytes). crf 21 would beat AV1 on both, for 1.9x-5x the bytes.
H264_PRESET = "ultrafast"
H264_CRF = 24


class ConvertConfig(BaseModel):
    """Options of `kuavo convert` (raw Kuavo ROS1 bags -> one LeRobot v3.0 dataset)."""

    model_config = ConfigDict(extra="forbid")

    task_description: str = Field(
        "Pick and Place", min_length=1, description="Task string stored for every frame (official default)."
    )
    repo_id: str | None = Field(
        None, description="repo_id recorded in the dataset (default: lerobot/<name of the bag folder>)."
    )
    fps: int = Field(10, gt=0, description="Output frame rate (the official train_hz).")
    camera_fps: int = Field(
        30, gt=0, description="Nominal rate of the main camera; every camera_fps//fps-th frame is kept."
    )
    drop_frames: int = Field(
        10, ge=0, description="Main-camera frames dropped at each end of a bag before decimation (0 = none)."
    )
    depth: bool = Field(True, description="Also store the depth cameras as observation.depth_* videos.")
    depth_range: tuple[int, int] = Field(
        (0, 1500), description="Depth clip range in mm before the per-frame 0..255 normalisation."
    )
    arms: Arms = Field(
        "both", description="Arms to keep: both (16-dim) or left/right (8-dim, one wrist cam)."
    )
    gripper: GripperChoice = Field(
        "auto",
        description="End effector: auto (detected per bag), rq2f85 (sim), claw (leju claw) or dexhand.",
    )
    size: str = Field("640x480", description="Stored image size WIDTHxHEIGHT (images are resized to it).")
    vcodec: VideoCodec = Field(
        "libsvtav1",
        description="Video codec: libsvtav1 (AV1, lerobot's and the official default), h264 (libx264 "
        "ultrafast, crf 24 unless set: converts 2x faster, frames within 1 dB of AV1's, decodes cheaper in "
        "training, files 1.4-3.6x larger; docs/convert.md) or hevc (libx265).",
    )
    gop: int = Field(
        2, ge=1, description="Keyframe interval in frames (lerobot's default 2: cheap random access)."
    )
    crf: int | None = Field(
        None,
        ge=0,
        le=63,
        description="Quality (lower = better, bigger); default: lerobot's (30), for h264 kuavo's 24.",
    )
    preset: str | None = Field(
        None,
        description="Encoder speed preset: 0-13 for libsvtav1 (lerobot: 12), ultrafast..veryslow for "
        "h264/hevc; default: lerobot's, for h264 kuavo's ultrafast.",
    )
    streaming_encoding: bool = Field(
        True,
        description="Encode videos while frames stream in (lerobot's streaming encoder, 2-3x faster); "
        "off = PNG files first, then encode, as the official converter. Same codec settings either way.",
    )
    workers: int | None = Field(
        None, ge=1, description="Parallel worker processes (default: CPU count, at most one per bag)."
    )
    limit: int | None = Field(None, ge=1, description="Convert only the first N bags (in name order).")
    shard: str | None = Field(
        None,
        description="I/N: convert only shard I of N (0-based) of the bag list, split by a hash of each bag's "
        "file name, so every machine gets the same split whatever the order of the list.",
    )
    strict: bool = Field(
        False, description="Fail (no dataset written) if any bag is skipped, instead of skipping it."
    )

    @field_validator("size")
    @classmethod
    def _size_ok(cls, value: str) -> str:
        h, w = parse_wxh(value)
        return f"{w}x{h}"

    @field_validator("shard")
    @classmethod
    def _shard_ok(cls, value: str | None) -> str | None:
        if value is None:
            return None
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value)
        if not m or not 0 <= int(m.group(1)) < int(m.group(2)):
            raise ValueError(f"{value!r} must be I/N with 0 <= I < N, e.g. 0/4")
        return f"{int(m.group(1))}/{int(m.group(2))}"

    @model_validator(mode="after")
    def _rates_ok(self) -> ConvertConfig:
        if self.fps > self.camera_fps:
            raise ValueError(f"fps ({self.fps}) must not exceed camera_fps ({self.camera_fps})")
        lo, hi = self.depth_range
        if not 0 <= lo < hi:
            raise ValueError(f"depth_range {self.depth_range} must be two numbers 0 <= low < high (mm)")
        return self

    @property
    def image_hw(self) -> tuple[int, int]:
        """(height, width) of stored images."""
        return parse_wxh(self.size)

    @property
    def jump(self) -> int:
        """Integer decimation of the main camera, exactly as the official `main_timeline_fps // train_hz`."""
        return self.camera_fps // self.fps

    def codec_settings(self) -> tuple[int | None, str | None]:
        """(crf, preset) the encoder gets: as given, else kuavo's for h264, else None (lerobot's)."""
        if self.vcodec == "h264":
            return (
                H264_CRF if self.crf is None else self.crf,
                H264_PRESET if self.preset is None else self.preset,
            )
        return self.crf, self.preset

    def encoder_config(self):
        """lerobot's RGB encoder settings for this run (imports lerobot: call it in the worker)."""
        from lerobot.configs.video import RGBEncoderConfig

        crf, preset = self.codec_settings()
        extra = {k: v for k, v in (("crf", crf), ("preset", preset)) if v is not None}
        if preset is not None and self.vcodec == "libsvtav1" and preset.isdigit():
            extra["preset"] = int(preset)
        return RGBEncoderConfig(vcodec=self.vcodec, g=self.gop, **extra)

    def worker_count(self, n_bags: int) -> int:
        return max(1, min(self.workers or os.cpu_count() or 1, n_bags))

    def output_options(self) -> dict:
        """The options a staged episode depends on (compared by --resume)."""
        data = self.model_dump(mode="json")
        # The settings in effect, not the flags: a staged h264 episode of another default is not reused.
        data["crf"], data["preset"] = self.codec_settings()
        return {k: data[k] for k in OUTPUT_FIELDS}
