"""PNG plots of an evaluation (matplotlib, Agg backend: no display needed). Each file is written atomically."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from kuavo_cli.evaluate.metrics import EpisodeResult
from kuavo_cli.utils.atomic import save_figure


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    return save_figure(fig, path, dpi=90, bbox_inches="tight")


def trajectories(ep: EpisodeResult, names: list[str], fps: float, title: str, path: Path) -> Path:
    """Predicted vs recorded action of every joint over the episode; dots mark ticks that ran the model."""
    plt = _pyplot()
    dims = ep.pred.shape[1]
    cols = 4
    rows = math.ceil(dims / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.1 * rows), sharex=True, squeeze=False)
    t = np.arange(len(ep.pred)) / fps
    fresh = ep.chunk_pos == 0
    for d in range(rows * cols):
        ax = axes[d // cols][d % cols]
        if d >= dims:
            ax.axis("off")
            continue
        ax.plot(t, ep.rec[:, d], color="black", lw=1.4, label="recorded")
        ax.plot(t, ep.pred[:, d], color="tab:orange", lw=1.1, label="predicted")
        if fresh.any() and not fresh.all():
            ax.plot(t[fresh], ep.pred[fresh, d], ".", color="tab:orange", ms=3)
        ax.set_title(names[d] if d < len(names) else f"dim {d}", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7, loc="best")
    for ax in axes[-1]:
        ax.set_xlabel("time (s)", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def joint_errors(per_joint: list[dict], path: Path) -> Path:
    plt = _pyplot()
    names = [row["name"] for row in per_joint]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(names)), 3.6))
    ax.bar(x - 0.2, [row["mae"] for row in per_joint], 0.4, label="MAE")
    ax.bar(x + 0.2, [math.sqrt(row["mse"]) for row in per_joint], 0.4, label="RMSE")
    ax.set_xticks(x, names, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("error (rad; grippers: normalised)")
    ax.set_title("Per-joint error on the evaluated episodes")
    ax.legend()
    return _save(fig, path)


def error_vs_time(evt: dict, path: Path) -> Path:
    plt = _pyplot()
    edges = np.asarray(evt["bin_edges"])
    centres = (edges[:-1] + edges[1:]) / 2
    values = np.array([np.nan if v is None else v for v in evt["mse"]], dtype=float)
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.plot(centres * 100, values, marker="o")
    ax.set_xlabel("time in episode (%)")
    ax.set_ylabel("MSE")
    ax.set_title("Error vs time in episode")
    ax.set_ylim(bottom=0)
    return _save(fig, path)


def error_by_chunk_position(rows: list[dict], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.bar([r["k"] for r in rows], [r["mse"] for r in rows])
    ax.set_xlabel("k = steps since the last chunk was predicted")
    ax.set_ylabel("MSE")
    ax.set_title("Error by position inside the action chunk")
    return _save(fig, path)


def comparison(ranking: list[dict], path: Path) -> Path:
    plt = _pyplot()
    labels = [row["label"] for row in ranking]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(labels)), 3.6))
    ax.bar(np.arange(len(labels)), [row["mse"] for row in ranking], color="tab:blue")
    ax.set_xticks(np.arange(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("overall MSE (lower is better)")
    ax.set_title("Checkpoints ranked on the same episodes")
    return _save(fig, path)


def write_plots(
    out: Path, episodes: list[EpisodeResult], report: dict, names: list[str], fps: float
) -> list[str]:
    """The standard set for one checkpoint; returns the file names written."""
    by_mse = sorted(report["per_episode"], key=lambda row: row["mse"])
    best, worst = by_mse[0]["episode"], by_mse[-1]["episode"]
    lookup = {ep.episode: ep for ep in episodes}
    label = report["checkpoint"]["label"]
    written = [
        trajectories(
            lookup[best], names, fps, f"{label}: best episode {best} (MSE {by_mse[0]['mse']:.4g})",
            out / "trajectories_best.png",
        ),
        trajectories(
            lookup[worst], names, fps, f"{label}: worst episode {worst} (MSE {by_mse[-1]['mse']:.4g})",
            out / "trajectories_worst.png",
        ),
        joint_errors(report["per_joint"], out / "joint_errors.png"),
        error_vs_time(report["error_vs_time"], out / "error_vs_time.png"),
    ]  # fmt: skip
    if report["error_by_chunk_position"]:
        written.append(error_by_chunk_position(report["error_by_chunk_position"], out / "error_by_chunk.png"))
    return [p.name for p in written]
