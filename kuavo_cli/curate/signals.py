"""Per-episode quality signals of a LeRobot dataset: numbers only, no judgement (that is flags.py).

Vectors come from the data parquet files (state and action columns); camera signals from one sequential
decode of every video file (PyAV, grey, downscaled by FFmpeg), each frame assigned to its episode by the
episode's `from_timestamp`/`to_timestamp` in meta/episodes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kuavo_cli.data.schema import ACTION_KEY, JOINT_LIMITS, STATE_KEY, STATE_NAMES

DECODE_WIDTH = 96  # pixels: enough to see a black or frozen picture, cheap to decode into


@dataclass
class CameraSignal:
    """Per episode and camera: mean grey level of each frame, and the largest pixel change between
    consecutive frames (0..255)."""

    brightness: np.ndarray
    max_change: np.ndarray


@dataclass
class EpisodeSignals:
    episode: int
    length: int
    task: str
    gripper_max: dict[str, float] = field(default_factory=dict)  # gripper name -> max state in the episode
    gripper_min: dict[str, float] = field(default_factory=dict)
    limit_frames: dict[str, int] = field(default_factory=dict)  # joint -> frames at or beyond its limit
    motion: dict[str, float] = field(default_factory=dict)  # outlier statistics (see _motion)
    cameras: dict[str, CameraSignal] = field(default_factory=dict)


def _state_names(meta: Any, dim: int) -> list[str]:
    names = (meta.features.get(STATE_KEY) or {}).get("names")
    if isinstance(names, dict):
        names = next(iter(names.values()), None)
    return (
        [str(n) for n in names]
        if isinstance(names, list) and len(names) == dim
        else [str(i) for i in range(dim)]
    )


def gripper_indices(names: list[str]) -> list[int]:
    return [i for i, n in enumerate(names) if "gripper" in n.lower() or "claw" in n.lower()]


def _read_columns(meta: Any, keys: list[str]) -> dict[str, np.ndarray]:
    import pyarrow.parquet as pq

    files = sorted({meta.get_data_file_path(e) for e in range(meta.total_episodes)})
    parts: dict[str, list[np.ndarray]] = defaultdict(list)
    for rel in files:
        table = pq.read_table(Path(meta.root) / rel, columns=[*keys, "episode_index"])
        for key in keys:
            parts[key].append(np.asarray(table.column(key).to_pylist(), dtype=np.float64))
        parts["episode_index"].append(table.column("episode_index").to_numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}


def _motion(state: np.ndarray, action: np.ndarray | None, arm: list[int]) -> dict[str, float]:
    """Arm motion statistics compared across episodes: mean and largest per-frame joint step (rad), and
    how far the commanded action is from the measured state on average (rad)."""
    steps = np.abs(np.diff(state[:, arm], axis=0)) if len(state) > 1 else np.zeros((1, len(arm)))
    out = {"mean_step": float(steps.mean()), "max_step": float(steps.max())}
    if action is not None and action.shape == state.shape:
        out["action_gap"] = float(np.abs(action[:, arm] - state[:, arm]).mean())
    return out


def vector_signals(meta: Any, tolerance: float) -> list[EpisodeSignals]:
    keys = [k for k in (STATE_KEY, ACTION_KEY) if k in meta.features]
    columns = _read_columns(meta, keys) if STATE_KEY in keys else {}
    table = meta.episodes.to_pandas()
    dim = int(meta.features[STATE_KEY]["shape"][0]) if STATE_KEY in meta.features else 0
    names = _state_names(meta, dim) if dim else []
    grippers = gripper_indices(names)
    arm = [i for i in range(dim) if i not in grippers]
    limits = JOINT_LIMITS if names == STATE_NAMES else None  # the Kuavo schema: official clip ranges
    by_episode = (
        {int(e): np.flatnonzero(columns["episode_index"] == e) for e in np.unique(columns["episode_index"])}
        if columns
        else {}
    )
    result = []
    for row in table.itertuples(index=False):
        ep = int(row.episode_index)
        tasks = list(row.tasks) if row.tasks is not None else []
        sig = EpisodeSignals(ep, int(row.length), str(tasks[0]) if tasks else "")
        rows = by_episode.get(ep)
        if rows is not None and len(rows):
            state = columns[STATE_KEY][rows]
            action = columns[ACTION_KEY][rows] if ACTION_KEY in columns else None
            for i in grippers:
                sig.gripper_max[names[i]] = float(state[:, i].max())
                sig.gripper_min[names[i]] = float(state[:, i].min())
            if limits is not None:
                for i in arm:
                    lo, hi = limits[i]
                    hits = int(((state[:, i] <= lo + tolerance) | (state[:, i] >= hi - tolerance)).sum())
                    if hits:
                        sig.limit_frames[names[i]] = hits
            if arm:
                sig.motion = _motion(state, action, arm)
        result.append(sig)
    return result


def _decode_grey(path: Path) -> tuple[np.ndarray, list[np.ndarray]]:
    """(frame times in seconds, grey frames) of a whole video file, FFmpeg scaling to DECODE_WIDTH."""
    import av

    times, frames = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        width, height = stream.codec_context.width, stream.codec_context.height
        scale = min(1.0, DECODE_WIDTH / max(width, 1))
        w, h = max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)
        for frame in container.decode(stream):
            times.append(float(frame.time))
            frames.append(frame.reformat(width=w, height=h, format="gray").to_ndarray())
    return np.asarray(times), frames


def camera_signals(
    meta: Any, episodes: list[EpisodeSignals], progress: Callable[[int, int], None] | None = None
) -> None:
    """Fill `cameras` of every episode: one decode per video file, frames split by episode timestamps."""
    table = meta.episodes.to_pandas()
    by_index = {s.episode: s for s in episodes}
    keys = [k for k in meta.video_keys if k not in getattr(meta, "depth_keys", [])]
    jobs: dict[tuple[str, str], list[tuple[int, float, float]]] = defaultdict(list)
    for row in table.to_dict("records"):
        ep = int(row["episode_index"])
        for key in keys:
            rel = str(meta.get_video_file_path(ep, key))
            jobs[(key, rel)].append(
                (ep, float(row[f"videos/{key}/from_timestamp"]), float(row[f"videos/{key}/to_timestamp"]))
            )
    half_frame = 0.5 / meta.fps
    for done, ((key, rel), spans) in enumerate(sorted(jobs.items())):
        times, frames = _decode_grey(Path(meta.root) / rel)
        for ep, start, end in spans:
            picked = np.flatnonzero((times >= start - half_frame) & (times < end - half_frame))
            stack = np.stack([frames[i] for i in picked]).astype(np.int16) if len(picked) else None
            if stack is None:
                signal = CameraSignal(np.zeros(0), np.zeros(0))
            else:
                change = np.abs(np.diff(stack, axis=0)).reshape(len(stack) - 1, -1).max(axis=1)
                signal = CameraSignal(stack.reshape(len(stack), -1).mean(axis=1), change.astype(np.float64))
            by_index[ep].cameras[key] = signal
        if progress:
            progress(done + 1, len(jobs))
