"""Summaries, ranking, report.md / report.json and the plot of a closed-loop eval."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from kuavo_cli.utils.atomic import save_figure, write_json, write_text

SIM_REPORT_VERSION = 1


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a success rate (sound at 0/n and n/n, unlike the normal one)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def summarise(episodes: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(episodes)
    wins = sum(1 for e in episodes if e["success"])
    low, high = wilson_interval(wins, n)
    scores = [e["score"] for e in episodes]
    errors = [e for e in episodes if e.get("error")]
    return {
        "episodes": n,
        "successes": wins,
        "success_rate": wins / n if n else 0.0,
        "success_ci95": [round(low, 4), round(high, 4)],
        "mean_score": round(sum(scores) / n, 3) if n else 0.0,
        "mean_steps": round(sum(e["steps"] for e in episodes) / n, 2) if n else 0.0,
        "mean_sim_seconds": round(sum(e["sim_seconds"] for e in episodes) / n, 3) if n else 0.0,
        "inference_ms_mean": round(sum(e["inference_ms_mean"] for e in episodes) / n, 3) if n else 0.0,
        "failed_with_error": len(errors),
    }


def rank(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best first: success rate, then mean score."""
    rows = [{"label": r["label"], **{k: r["summary"][k] for k in ("success_rate", "success_ci95", "mean_score")}}
            for r in results]  # fmt: skip
    rows.sort(key=lambda r: (-r["success_rate"], -r["mean_score"]))
    for i, row in enumerate(rows, 1):
        row["rank"] = i
    return rows


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Closed-loop eval: {report['scene']} ({report['task']})",
        "",
        f"> {report['fidelity_note']}",
        "",
        f"Seeds {report['seeds'][0]}..{report['seeds'][-1]}, latency {report['latency']}, "
        f"rendering {report['render_backend']}, MuJoCo {report['mujoco_version']}.",
        "",
        "| rank | checkpoint | success | 95% CI | mean score |",
        "|---|---|---|---|---|",
    ]
    for row in report["ranking"]:
        lo, hi = row["success_ci95"]
        lines.append(
            f"| {row['rank']} | {row['label']} | {row['success_rate']:.0%} | {lo:.0%}-{hi:.0%} | {row['mean_score']:.1f} |"
        )
    for result in report["results"]:
        lines += ["", f"## {result['label']}", "", "| seed | success | score | breakdown | steps | sim s | error |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for e in result["episodes"]:
            parts = ", ".join(f"{k} {v:g}" for k, v in e["breakdown"].items())
            lines.append(f"| {e['seed']} | {'yes' if e['success'] else 'no'} | {e['score']:g} | {parts} | "
                         f"{e['steps']} | {e['sim_seconds']:g} | {e.get('error') or ''} |")  # fmt: skip
    if report.get("plots"):
        lines += ["", *[f"![{p}]({p})" for p in report["plots"]]]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = report["results"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2 + 0.2 * len(results)))
    labels = [r["label"] for r in results]
    rates = [r["summary"]["success_rate"] for r in results]
    lows = [r["summary"]["success_rate"] - r["summary"]["success_ci95"][0] for r in results]
    highs = [r["summary"]["success_ci95"][1] - r["summary"]["success_rate"] for r in results]
    ax1.barh(labels, rates, xerr=[lows, highs], color="#4c72b0", capsize=4)
    ax1.set_xlim(0, 1)
    ax1.set_xlabel("success rate (95% Wilson CI)")
    for i, r in enumerate(results):
        ax2.scatter([e["score"] for e in r["episodes"]], [i] * len(r["episodes"]), alpha=0.6)
    ax2.set_yticks(range(len(labels)), labels)
    ax2.set_xlabel("score per episode")
    fig.suptitle(f"{report['scene']}: proxy scores (welded base, no MPC/WBC)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100).name


def write(out: Path, report: dict[str, Any], with_plot: bool = True) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if with_plot:
        report["plots"] = [plot(report, out / "scores.png")]
    write_json(out / "report.json", report)
    write_text(out / "report.md", markdown(report))


def print_summary(console: Console, report: dict[str, Any]) -> None:
    table = Table(title=f"kuavo eval --sim {report['scene']} ({len(report['seeds'])} episodes each)")
    for col in ("rank", "checkpoint", "success", "95% CI", "mean score", "errors"):
        table.add_column(col)
    by_label = {r["label"]: r["summary"] for r in report["results"]}
    for row in report["ranking"]:
        lo, hi = row["success_ci95"]
        table.add_row(str(row["rank"]), row["label"], f"{row['success_rate']:.0%}", f"{lo:.0%}-{hi:.0%}",
                      f"{row['mean_score']:.1f}", str(by_label[row["label"]]["failed_with_error"]))  # fmt: skip
    console.print(table)
    console.print(f"[dim]{report['fidelity_note']}[/dim]")
    console.print(f"report: {report['out_dir']}/report.md")
