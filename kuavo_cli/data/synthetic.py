"""A small synthetic dataset with the exact Kuavo schema, written by lerobot's own writer.

Each episode is a smooth bimanual motion: joint j follows c_j + a_j sin(w t + phi + j d). The action at
frame i is the state at frame i+1 (a position target), so it is a smooth function of the current state,
and a short training run measurably lowers validation loss. Every camera draws a disc whose position
encodes the same phase, so vision carries the signal too.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kuavo_cli.data.schema import (
    ACTION_KEY,
    CAMERA_KEYS,
    FPS,
    JOINT_LIMITS,
    ROBOT_TYPE,
    STATE_KEY,
    kuavo_features,
)
from kuavo_cli.errors import UsageError
from kuavo_cli.utils import atomic
from kuavo_cli.utils.logs import quiet_logs
from kuavo_cli.utils.process_priority import normal_scheduling

DEFAULT_TASK = "Sort the toys into the matching boxes"
CAMERA_COLOURS = {
    CAMERA_KEYS[0]: (230, 60, 40),
    CAMERA_KEYS[1]: (40, 200, 70),
    CAMERA_KEYS[2]: (50, 90, 230),
}


@dataclass(frozen=True)
class SyntheticSpec:
    num_episodes: int = 6
    episode_length: int = 60
    image_size: tuple[int, int] = (48, 64)  # (height, width)
    seed: int = 0
    repo_id: str = "kuavo/synthetic"
    task: str = DEFAULT_TASK
    vcodec: str = "libsvtav1"
    use_videos: bool = True
    # (episode, defect) pairs that make episodes deliberately bad, for testing curation (`kuavo dataset check`):
    # see DEFECTS.
    defects: tuple[tuple[int, str], ...] = ()

    def check(self) -> None:
        if self.num_episodes < 1:
            raise UsageError(f"--episodes must be >= 1 (got {self.num_episodes})")
        if self.episode_length < 4:
            raise UsageError(f"--length must be >= 4 frames (got {self.episode_length})")
        h, w = self.image_size
        if h < 16 or w < 16 or h % 2 or w % 2:
            raise UsageError(f"--size {w}x{h}: width and height must be even and >= 16")
        unknown = sorted({kind for _, kind in self.defects} - set(DEFECTS))
        if unknown:
            raise UsageError(f"unknown synthetic defect {unknown[0]!r}; choose from {', '.join(DEFECTS)}")


DEFECTS = {
    "black_camera": "the head camera shows black frames",
    "frozen_camera": "the left wrist camera repeats its first frame",
    "gripper_open": "both grippers stay open",
    "short": "the episode is a fifth of the normal length",
    "joint_limit": "zarm_l4 (joint 3) sits at its upper limit",
    "jump": "zarm_l3 (joint 2) jumps 0.4 rad towards its centre for one frame (a teleoperation glitch)",
}


def episode_length(spec: SyntheticSpec, episode: int) -> int:
    """Frames of `episode` (a `short` defect makes it a fifth as long)."""
    short = dict(spec.defects).get(episode) == "short"
    return max(4, spec.episode_length // 5) if short else spec.episode_length


def _with_state_defect(q: np.ndarray, defect: str | None) -> np.ndarray:
    q = q.copy()
    if defect == "gripper_open":
        q[:, [7, 15]] = 0.05
    elif defect == "joint_limit":
        q[:, 3] = JOINT_LIMITS[3][1]
    elif defect == "jump":
        mid = len(q) // 2
        q[mid, 2] -= 0.4 * np.sign(q[mid, 2])
    return q


def _camera_frame(key: str, q: np.ndarray, first_q: np.ndarray, size: tuple[int, int], defect: str | None):
    if defect == "black_camera" and key == CAMERA_KEYS[0]:
        return np.zeros((*size, 3), dtype=np.uint8)
    if defect == "frozen_camera" and key == CAMERA_KEYS[1]:
        return render_camera(key, first_q, size)
    return render_camera(key, q, size)


# Joint pairs that rotate together (in joint-range-normalised coordinates); grippers form the last pair.
ROTATION_PAIRS = ((0, 1), (2, 3), (4, 5), (6, 8), (9, 10), (11, 12), (13, 14), (7, 15))
ANGULAR_SPEED = np.array([0.9, -1.1, 1.3, -0.8, 1.0, -1.2, 0.7, 1.5])  # rad/s, shared by every episode


def joint_trajectory(spec: SyntheticSpec, episode: int, length: int) -> np.ndarray:
    """(length + 1, 16) float32 joint positions inside the Kuavo limits.

    Every episode follows the same smooth vector field (each joint pair rotates about the middle of its
    range at a fixed speed) from its own random start, so q[t+1] is one fixed function of q[t] and a
    policy trained on some episodes generalises to held-out ones.
    """
    rng = np.random.default_rng([spec.seed, episode])
    lows = np.array([lo for lo, _ in JOINT_LIMITS])
    highs = np.array([hi for _, hi in JOINT_LIMITS])
    centre, half = (lows + highs) / 2, (highs - lows) / 2
    half[[7, 15]] = 0.5  # grippers live in [0, 1], not the [-1, 1] clip range
    centre[[7, 15]] = 0.5
    radius = rng.uniform(0.25, 0.8, len(ROTATION_PAIRS))
    start = rng.uniform(0, 2 * np.pi, len(ROTATION_PAIRS))
    t = np.arange(length + 1) / FPS
    u = np.zeros((length + 1, 16))
    for k, (a, b) in enumerate(ROTATION_PAIRS):
        angle = start[k] + ANGULAR_SPEED[k] * t
        u[:, a] = radius[k] * np.cos(angle)
        u[:, b] = radius[k] * np.sin(angle)
    q = centre + half * u
    return q.astype(np.float32)


def render_camera(key: str, q: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An HWC uint8 frame: a coloured disc placed by two joints, on a gradient background."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    frame = np.empty((h, w, 3), dtype=np.uint8)
    frame[..., 0] = (yy * 80 // max(h - 1, 1)).astype(np.uint8)
    frame[..., 1] = (xx * 80 // max(w - 1, 1)).astype(np.uint8)
    frame[..., 2] = 40
    index = CAMERA_KEYS.index(key)
    cx = w * (0.5 + 0.35 * np.tanh(q[index * 3]))
    cy = h * (0.5 + 0.35 * np.tanh(q[index * 3 + 1]))
    radius = max(3.0, min(h, w) * (0.12 + 0.08 * q[7 if index != 2 else 15]))
    mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2
    frame[mask] = CAMERA_COLOURS[key]
    return frame


def make_synthetic_dataset(
    root: Path,
    spec: SyntheticSpec | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the dataset to `root` (built in a temp folder beside it, then renamed: never half-written)."""
    spec = spec or SyntheticSpec()
    spec.check()
    root = Path(root)
    if root.exists() and not overwrite:
        raise UsageError(f"{root} already exists", "pass --force to replace it")
    root.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner per video otherwise
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    target = staging / "dataset"
    try:
        with quiet_logs():
            from lerobot.configs.video import RGBEncoderConfig
            from lerobot.datasets import LeRobotDataset

            dataset = LeRobotDataset.create(
                repo_id=spec.repo_id,
                fps=FPS,
                features=kuavo_features(spec.image_size, spec.use_videos),
                root=target,
                robot_type=ROBOT_TYPE,
                use_videos=spec.use_videos,
                rgb_encoder=RGBEncoderConfig(vcodec=spec.vcodec),
            )
            defects = dict(spec.defects)
            for episode in range(spec.num_episodes):
                defect = defects.get(episode)
                length = episode_length(spec, episode)
                q = _with_state_defect(joint_trajectory(spec, episode, length), defect)
                for i in range(length):
                    frame = {STATE_KEY: q[i], ACTION_KEY: q[i + 1], "task": spec.task}
                    for key in CAMERA_KEYS:
                        frame[key] = _camera_frame(key, q[i], q[0], spec.image_size, defect)
                    dataset.add_frame(frame)
                dataset.save_episode(parallel_encoding=False)
                if progress:
                    progress(episode + 1, spec.num_episodes)
            dataset.finalize()
        publish_written_dataset(target, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def publish_written_dataset(target: Path, root: Path) -> None:
    """Move a dataset lerobot's writer finished in a staging folder to `root`, replacing what was there."""
    normal_scheduling()  # the AV1 encoder may have made this process real-time; undo it
    # The writer's PNG staging folders are empty once every episode is encoded.
    shutil.rmtree(target / "images", ignore_errors=True)
    atomic.replace_dir(target, root)  # `root` is the old dataset or the new one at every moment
