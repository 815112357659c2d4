"""Error metrics between predicted and recorded actions; plain numpy so they can be checked by hand.

Shapes: `pred` and `rec` are (frames, action_dim) in physical units (rad for arm joints, the recorded
gripper scale for grippers), `chunk_pos` is (frames,) with the steps since the last chunk was predicted
(-1 where unknown).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRIPPER_THRESHOLD = 0.5


@dataclass
class EpisodeResult:
    """One replayed episode: what the policy did next to what the demonstrator did."""

    episode: int
    pred: np.ndarray  # (T, D)
    rec: np.ndarray  # (T, D)
    chunk_pos: np.ndarray  # (T,) int, -1 = unknown


def mse(pred: np.ndarray, rec: np.ndarray) -> float:
    return float(np.mean((pred - rec) ** 2))


def mae(pred: np.ndarray, rec: np.ndarray) -> float:
    return float(np.mean(np.abs(pred - rec)))


def per_dim_mse(pred: np.ndarray, rec: np.ndarray) -> np.ndarray:
    return np.mean((pred - rec) ** 2, axis=0)


def per_dim_mae(pred: np.ndarray, rec: np.ndarray) -> np.ndarray:
    return np.mean(np.abs(pred - rec), axis=0)


def gripper_agreement(pred: np.ndarray, rec: np.ndarray, threshold: float = GRIPPER_THRESHOLD) -> float:
    """Fraction of (frame, gripper) pairs where prediction and recording agree on open vs closed."""
    return float(np.mean((pred > threshold) == (rec > threshold)))


def split_dims(dim: int, gripper_indices: tuple[int, ...]) -> tuple[list[int], list[int]]:
    """(arm indices, gripper indices) valid for an action of `dim` values."""
    grippers = [i for i in gripper_indices if i < dim]
    return [i for i in range(dim) if i not in grippers], grippers


def summarize(pred: np.ndarray, rec: np.ndarray, gripper_indices: tuple[int, ...]) -> dict:
    """Overall metrics of one block of frames (an episode, or every frame stacked)."""
    arm, grip = split_dims(pred.shape[1], gripper_indices)
    out = {
        "n_frames": int(pred.shape[0]),
        "mse": mse(pred, rec),
        "mae": mae(pred, rec),
        "rmse": float(np.sqrt(mse(pred, rec))),
        "arm_mse": mse(pred[:, arm], rec[:, arm]) if arm else None,
        "arm_mae": mae(pred[:, arm], rec[:, arm]) if arm else None,
        "gripper_mae": mae(pred[:, grip], rec[:, grip]) if grip else None,
        "gripper_agreement": gripper_agreement(pred[:, grip], rec[:, grip]) if grip else None,
    }
    return out


def per_joint(pred: np.ndarray, rec: np.ndarray, names: list[str], gripper_indices: tuple[int, ...]) -> list:
    d_mse, d_mae = per_dim_mse(pred, rec), per_dim_mae(pred, rec)
    return [
        {
            "index": i,
            "name": names[i] if i < len(names) else f"dim_{i}",
            "unit": "gripper" if i in gripper_indices else "rad",
            "mse": float(d_mse[i]),
            "mae": float(d_mae[i]),
        }
        for i in range(pred.shape[1])
    ]


def error_vs_time(episodes: list[EpisodeResult], n_bins: int = 10) -> dict:
    """Per-frame MSE averaged in bins of normalised time-in-episode (0 = first frame, 1 = last)."""
    sums, counts = np.zeros(n_bins), np.zeros(n_bins, dtype=int)
    for ep in episodes:
        t = len(ep.pred)
        frac = np.arange(t) / max(t - 1, 1)
        bins = np.minimum((frac * n_bins).astype(int), n_bins - 1)
        err = np.mean((ep.pred - ep.rec) ** 2, axis=1)
        np.add.at(sums, bins, err)
        np.add.at(counts, bins, 1)
    with np.errstate(invalid="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return {
        "bin_edges": [float(e) for e in edges],
        "mse": [None if np.isnan(m) else float(m) for m in means],
        "n_frames": [int(c) for c in counts],
    }


def error_by_chunk_position(episodes: list[EpisodeResult]) -> list[dict]:
    """Per-frame MSE grouped by k = steps since the policy last predicted a chunk (k = 0: fresh chunk)."""
    pos = np.concatenate([ep.chunk_pos for ep in episodes]) if episodes else np.zeros(0, dtype=int)
    err = (
        np.concatenate([np.mean((ep.pred - ep.rec) ** 2, axis=1) for ep in episodes])
        if episodes
        else np.zeros(0)
    )
    rows = []
    for k in sorted(set(pos.tolist()) - {-1}):
        sel = pos == k
        rows.append({"k": int(k), "mse": float(err[sel].mean()), "n_frames": int(sel.sum())})
    return rows


def episode_rows(episodes: list[EpisodeResult], gripper_indices: tuple[int, ...]) -> list[dict]:
    return [{"episode": ep.episode, **summarize(ep.pred, ep.rec, gripper_indices)} for ep in episodes]


def overall(episodes: list[EpisodeResult], gripper_indices: tuple[int, ...]) -> dict:
    """Metrics over every frame of every episode (frame-weighted, not an average of episode means)."""
    pred = np.concatenate([ep.pred for ep in episodes])
    rec = np.concatenate([ep.rec for ep in episodes])
    return summarize(pred, rec, gripper_indices)
