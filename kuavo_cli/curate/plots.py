"""One PNG of a `kuavo dataset check` report: each quality signal per episode, flagged episodes in red."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kuavo_cli.inspect.plots import _figure
from kuavo_cli.utils.atomic import save_figure

OK, BAD = "#4c78a8", "#e45756"


def _bars(ax, x: np.ndarray, values: list[float], colours: list[str], title: str, limit: float | None = None):
    ax.bar(x, values, color=colours, width=0.8)
    if limit is not None:
        ax.axhline(limit, color="black", linestyle="--", linewidth=0.8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)


def quality_png(report: dict, path: Path) -> Path:
    rows = report["rows"]
    x = np.array([r["episode"] for r in rows])
    flagged = [bool(r["flags"]) for r in rows]
    colours = [BAD if f else OK for f in flagged]
    t = report["thresholds"]
    cams = sorted({k for r in rows for k in r["camera_black"]})
    grippers = sorted({k for r in rows for k in r["gripper_max"]})
    stats = sorted({k for r in rows for k in r["z"]})
    panels = 1 + (2 if cams else 0) + len(grippers) + (1 if stats else 0) + 1
    plt, fig, axes = _figure(panels, 1, (max(6.0, 0.18 * len(rows) + 3), 1.7 * panels + 0.6))
    axes = [a[0] for a in axes]
    i = 0
    _bars(axes[i], x, [r["length"] for r in rows], colours, "length (frames); dashed: --min-length",
          t["min_length"])  # fmt: skip
    i += 1
    if cams:
        worst_black = [max(r["camera_black"].values(), default=0) for r in rows]
        worst_frozen = [max(r["camera_frozen"].values(), default=0) for r in rows]
        _bars(axes[i], x, worst_black, colours, "share of black frames (worst camera)", t["camera_fraction"])
        _bars(axes[i + 1], x, worst_frozen, colours, "share of repeated frames (worst camera)",
              t["camera_fraction"])  # fmt: skip
        i += 2
    for name in grippers:
        level = t["gripper_closed"].get(name)
        _bars(axes[i], x, [r["gripper_max"].get(name, 0) for r in rows], colours,
              f"{name}: max state; dashed: closed level", level)  # fmt: skip
        i += 1
    if stats:
        worst = [max((abs(v) for v in r["z"].values()), default=0) for r in rows]
        _bars(axes[i], x, worst, colours, "largest |robust z| of the motion statistics", t["outlier_z"])
        i += 1
    limit_share = [max(r["limit_frames"].values(), default=0) / max(r["length"], 1) for r in rows]
    _bars(axes[i], x, limit_share, colours, "share of frames at a joint limit", t["limit_fraction"])
    axes[-1].set_xlabel("episode", fontsize=8)
    fig.suptitle(
        f"{Path(report['dataset']).name}: {len(report['flagged'])} of {report['episodes']} episodes flagged",
        fontsize=10,
    )
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)
