"""PNG figures (matplotlib, Agg backend, written atomically) and small plots drawn with text for the terminal."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from kuavo_cli.utils.atomic import save_figure


def _figure(rows: int, cols: int, size: tuple[float, float]):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    return plt, fig, axes


def contact_sheet(frames: dict[str, list[tuple[float, np.ndarray]]], title: str, path: Path) -> Path:
    """One row per camera, one column per sampled frame (HWC uint8), timestamps as titles."""
    cams = list(frames)
    cols = max(len(v) for v in frames.values())
    plt, fig, axes = _figure(len(cams), cols, (2.2 * cols, 2.0 * len(cams) + 0.6))
    for r, cam in enumerate(cams):
        for c in range(cols):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(frames[cam]):
                t, img = frames[cam][c]
                ax.imshow(img)
                ax.set_title(f"t={t:.1f}s", fontsize=8)
        axes[r][0].text(-0.05, 0.5, cam.rsplit(".", 1)[-1], transform=axes[r][0].transAxes, rotation=90,
                        ha="right", va="center", fontsize=8)  # fmt: skip
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def trajectories(
    t: np.ndarray, series: dict[str, np.ndarray], names: list[str], title: str, path: Path
) -> Path:
    """One subplot per joint; every series (e.g. state, action) as a line over time."""
    dims = len(names)
    cols = 4 if dims > 4 else dims
    rows = math.ceil(dims / cols)
    plt, fig, axes = _figure(rows, cols, (3.2 * cols, 2.1 * rows + 0.6))
    styles = ["-", "--", ":", "-."]
    for j in range(rows * cols):
        ax = axes[j // cols][j % cols]
        if j >= dims:
            ax.axis("off")
            continue
        for k, (label, values) in enumerate(series.items()):
            if values.ndim == 2 and values.shape[1] > j:
                ax.plot(t, values[:, j], styles[k % len(styles)], label=label, linewidth=1.2)
        ax.set_title(names[j], fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def loss_curves(
    curves: dict[str, tuple[list[float], list[float]]], title: str, path: Path, best: int | None
) -> Path:
    plt, fig, axes = _figure(1, 1, (7, 4))
    ax = axes[0][0]
    for label, (x, y) in curves.items():
        if x:
            ax.plot(x, y, marker="o" if len(x) < 40 else None, markersize=3, label=label)
    if best is not None:
        ax.axvline(best, color="grey", linestyle=":", label=f"best step {best}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log" if _positive(curves) else "linear")
    ax.legend()
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def _positive(curves: dict[str, tuple[list[float], list[float]]]) -> bool:
    ys = [v for _, y in curves.values() for v in y]
    return bool(ys) and min(ys) > 0 and max(ys) / min(ys) > 20


# ---- text plots -------------------------------------------------------------------------------------


def text_histogram(edges: list[float], counts: list[int], width: int = 40) -> list[str]:
    top = max(counts) if counts else 0
    lines = []
    for i, n in enumerate(counts):
        bar = "█" * (round(width * n / top) if top else 0)
        lines.append(f"{edges[i]:>8.6g}-{edges[i + 1]:<8.6g} {bar} {n}")
    return lines


def text_plot(x: list[float], y: list[float], width: int = 60, height: int = 12) -> list[str]:
    """A scatter of (x, y) on a character grid with the y range on the left and the x range below."""
    if not x:
        return ["(no points)"]
    x0, x1 = min(x), max(x)
    y0, y1 = min(y), max(y)
    if y1 == y0:
        y1 = y0 + 1e-12
    grid = [[" "] * width for _ in range(height)]
    for xi, yi in zip(x, y, strict=True):
        col = 0 if x1 == x0 else round((xi - x0) / (x1 - x0) * (width - 1))
        row = height - 1 - round((yi - y0) / (y1 - y0) * (height - 1))
        grid[row][col] = "•"
    lines = []
    for r, cells in enumerate(grid):
        label = f"{y1:9.4g} " if r == 0 else f"{y0:9.4g} " if r == height - 1 else " " * 10
        lines.append(label + "│" + "".join(cells))
    lines.append(" " * 10 + "└" + "─" * width)
    lines.append(" " * 11 + f"{x0:<.6g}".ljust(width - 10) + f"{x1:>.6g}")
    return lines
