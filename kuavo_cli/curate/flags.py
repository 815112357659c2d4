"""Quality flags per episode from the signals in signals.py, with thresholds a user can change.

Most thresholds are relative to the dataset itself (the median episode length, the typical gripper range,
robust z-scores across episodes), so the same defaults work for the sim tasks and the real-robot data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from kuavo_cli.curate.signals import CameraSignal, EpisodeSignals, camera_signals, vector_signals

FLAG_CODES = {
    "too_short": "fewer frames than --min-length (default: half the median episode)",
    "too_long": "more frames than --max-length (default: twice the median episode)",
    "gripper_never_closes": "no gripper closes, or a gripper that closes in most episodes does not here",
    "black_camera": "a camera is black (mean grey level < black_level) in most frames",
    "frozen_camera": "a camera repeats the same picture in most frames",
    "joint_limit": "an arm joint sits at (or beyond) its official limit in many frames",
    "outlier": "motion statistics far from the other episodes (robust z-score)",
}


class QualityThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_length: int | None = Field(None, ge=1, description="Frames; default half the median length.")
    max_length: int | None = Field(None, ge=1, description="Frames; default twice the median length.")
    gripper_closed: float | None = Field(
        None, description="State value above which a gripper counts as closed; default halfway between "
        "its typical open and closed values in this dataset."
    )  # fmt: skip
    black_level: float = Field(
        10.0, ge=0, le=255, description="Mean grey level below which a frame is black."
    )
    frozen_change: float = Field(
        2.0, ge=0, description="Largest pixel change (0..255) between frames at or below which they repeat."
    )
    camera_fraction: float = Field(0.5, gt=0, le=1, description="Share of frames black/frozen to flag.")
    limit_tolerance: float = Field(0.01, ge=0, description="Radians from a joint limit that count as a hit.")
    limit_fraction: float = Field(0.1, gt=0, le=1, description="Share of frames at a limit to flag.")
    outlier_z: float = Field(5.0, gt=0, description="Robust z-score (median / MAD) beyond which to flag.")
    min_episodes_for_outliers: int = Field(5, ge=3, description="Fewer episodes: no outlier check.")


def _flag(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _length_flags(sig: EpisodeSignals, lo: int, hi: int) -> list[dict]:
    if sig.length < lo:
        return [_flag("too_short", f"{sig.length} frames < {lo}")]
    if sig.length > hi:
        return [_flag("too_long", f"{sig.length} frames > {hi}")]
    return []


def gripper_levels(episodes: list[EpisodeSignals], given: float | None) -> dict[str, float]:
    """Per gripper: the closed level, halfway between the median per-episode minimum and maximum."""
    names = sorted({n for s in episodes for n in s.gripper_max})
    levels = {}
    for name in names:
        highs = [s.gripper_max[name] for s in episodes if name in s.gripper_max]
        lows = [s.gripper_min[name] for s in episodes if name in s.gripper_min]
        levels[name] = given if given is not None else float((np.median(lows) + np.median(highs)) / 2)
    return levels


def _gripper_flags(sig: EpisodeSignals, levels: dict[str, float], used: set[str]) -> list[dict]:
    if not sig.gripper_max:
        return []
    closes = {n for n, v in sig.gripper_max.items() if v >= levels[n]}
    missing = sorted(used - closes)
    if not closes or missing:
        which = ", ".join(missing or sorted(sig.gripper_max))
        peak = ", ".join(
            f"{n} max {sig.gripper_max[n]:.2f} < {levels[n]:.2f}" for n in missing or sorted(levels)
        )
        verb = "never closes" if len(missing or sig.gripper_max) == 1 else "never close"
        return [_flag("gripper_never_closes", f"{which} {verb} ({peak})")]
    return []


def frozen_share(cam: CameraSignal, t: QualityThresholds) -> float:
    """Share of consecutive frame pairs that repeat the picture, black frames left out (they are counted
    as black, not frozen)."""
    black = cam.brightness < t.black_level
    lit_pairs = ~(black[1:] | black[:-1])
    frozen = (cam.max_change <= t.frozen_change) & lit_pairs
    return float(frozen.sum() / max(len(cam.max_change), 1))


def _camera_flags(sig: EpisodeSignals, t: QualityThresholds) -> list[dict]:
    flags = []
    for key, cam in sorted(sig.cameras.items()):
        name = key.rsplit(".", 1)[-1]
        if not len(cam.brightness):
            continue
        black = float((cam.brightness < t.black_level).mean())
        if black >= t.camera_fraction:
            flags.append(_flag("black_camera", f"{name} black in {black:.0%} of frames"))
            continue  # a black picture also repeats; say it once
        share = frozen_share(cam, t)
        if share >= t.camera_fraction:
            flags.append(_flag("frozen_camera", f"{name} repeats its picture in {share:.0%} of frames"))
    return flags


def _limit_flags(sig: EpisodeSignals, t: QualityThresholds) -> list[dict]:
    hits = {j: n for j, n in sig.limit_frames.items() if n / max(sig.length, 1) >= t.limit_fraction}
    if not hits:
        return []
    text = ", ".join(f"{j} {n / sig.length:.0%}" for j, n in sorted(hits.items()))
    return [_flag("joint_limit", f"at the limit: {text} of frames")]


def outlier_scores(episodes: list[EpisodeSignals]) -> dict[int, dict[str, float]]:
    """Robust z-score of each motion statistic per episode: 0.6745 (x - median) / MAD."""
    stats = sorted({k for s in episodes for k in s.motion})
    scores: dict[int, dict[str, float]] = {s.episode: {} for s in episodes}
    for stat in stats:
        rows = [(s.episode, s.motion[stat]) for s in episodes if stat in s.motion]
        values = np.array([v for _, v in rows])
        median = np.median(values)
        mad = np.median(np.abs(values - median))
        if mad <= 1e-12:
            continue
        for ep, v in rows:
            scores[ep][stat] = float(0.6745 * (v - median) / mad)
    return scores


def _row(sig: EpisodeSignals, t: QualityThresholds, z: dict[str, float], flags: list[dict]) -> dict:
    """The signals of one episode, as `kuavo dataset check --json` reports them."""
    cams = {k: c for k, c in sig.cameras.items() if len(c.brightness)}
    return {
        "episode": sig.episode,
        "length": sig.length,
        "task": sig.task,
        "flags": flags,
        "gripper_max": {k: round(v, 4) for k, v in sig.gripper_max.items()},
        "camera_black": {k: round(float((c.brightness < t.black_level).mean()), 3) for k, c in cams.items()},
        "camera_frozen": {k: round(frozen_share(c, t), 3) for k, c in cams.items()},
        "limit_frames": dict(sig.limit_frames),
        "motion": {k: round(v, 6) for k, v in sig.motion.items()},
        "z": {k: round(v, 2) for k, v in z.items()},
    }


def flag_episodes(episodes: list[EpisodeSignals], t: QualityThresholds) -> tuple[list[dict], dict]:
    median = float(np.median([s.length for s in episodes])) if episodes else 0.0
    lo = t.min_length if t.min_length is not None else max(1, int(np.ceil(median / 2)))
    hi = t.max_length if t.max_length is not None else int(median * 2)
    levels = gripper_levels(episodes, t.gripper_closed)
    used = {
        n
        for n, level in levels.items()
        if np.mean([s.gripper_max.get(n, -np.inf) >= level for s in episodes]) >= 0.5
    }
    scores = outlier_scores(episodes) if len(episodes) >= t.min_episodes_for_outliers else {}
    rows = []
    for sig in episodes:
        flags = _length_flags(sig, lo, hi)
        if sig.length >= lo:  # a cut-short episode may end before any grasp: it is flagged already
            flags += _gripper_flags(sig, levels, used)
        flags += _camera_flags(sig, t) + _limit_flags(sig, t)
        far = {k: z for k, z in scores.get(sig.episode, {}).items() if abs(z) > t.outlier_z}
        if far:
            flags.append(_flag("outlier", ", ".join(f"{k} z={z:+.1f}" for k, z in sorted(far.items()))))
        rows.append(_row(sig, t, scores.get(sig.episode, {}), flags))
    return rows, {"min_length": lo, "max_length": hi, "gripper_closed": levels}


def check_dataset(
    root: Path,
    thresholds: QualityThresholds | None = None,
    cameras: bool = True,
    progress: Any = None,
) -> dict:
    """`kuavo dataset check`: every episode with its flags; the dataset's files are checked first."""
    from kuavo_cli.data.metadata import open_checked

    thresholds = thresholds or QualityThresholds()
    meta = open_checked(Path(root))
    episodes = vector_signals(meta, thresholds.limit_tolerance)
    if cameras:
        camera_signals(meta, episodes, progress)
    rows, resolved = flag_episodes(episodes, thresholds)
    flagged = [r["episode"] for r in rows if r["flags"]]
    counts: dict[str, int] = {}
    for r in rows:
        for f in r["flags"]:
            counts[f["code"]] = counts.get(f["code"], 0) + 1
    return {
        "dataset": str(root),
        "episodes": len(rows),
        "frames": int(sum(r["length"] for r in rows)),
        "flagged": flagged,
        "flag_counts": counts,
        "thresholds": {**thresholds.model_dump(), **resolved},
        "cameras_checked": cameras,
        "rows": rows,
    }
