"""Report writers: report.json, report.md, rich tables on the terminal, and the ranked comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from kuavo_cli.utils.atomic import write_json, write_text

REPORT_VERSION = 1


def _f(value: Any, spec: str = ".4g") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format(value, spec)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def summary_rows(report: dict) -> list[tuple[str, str]]:
    o, lat, mem = report["overall"], report["latency"], report["memory"]
    rows = [
        ("episodes", f"{len(report['episodes'])}, {report['episodes_source']}"),
        ("frames", str(o["n_frames"])),
        ("MSE (all 16 dims)", _f(o["mse"])),
        ("MAE", _f(o["mae"])),
        ("arm MSE (rad²) / MAE (rad)", f"{_f(o['arm_mse'])} / {_f(o['arm_mae'])}"),
        ("gripper MAE", _f(o["gripper_mae"])),
        ("gripper open/close agreement", _pct(o["gripper_agreement"])),
        ("latency p50 / p95 / p99 (ms)", f"{_f(lat['p50_ms'], '.2f')} / {_f(lat['p95_ms'], '.2f')} / "
         f"{_f(lat['p99_ms'], '.2f')}"),
        ("  model ticks: count (p50 ms)", f"{lat['model_calls']['n']} ({_f(lat['model_calls']['p50_ms'], '.2f')})"),
        ("  queue ticks: count (p50 ms)", f"{lat['queue_pops']['n']} ({_f(lat['queue_pops']['p50_ms'], '.2f')})"),
        ("control rate at p99 (Hz)", f"{_f(lat['control_rate_hz_p99'], '.1f')} vs {lat['recording_hz']:g} Hz "
         f"recorded ({'keeps up' if lat['realtime'] else 'TOO SLOW'})"),
        ("peak RSS (MB)", _f(mem["peak_rss_mb"], ".0f")),
    ]  # fmt: skip
    if mem["cuda_max_allocated_mb"] is not None:
        rows.append(("CUDA max allocated (MB)", _f(mem["cuda_max_allocated_mb"], ".0f")))
    return rows


def print_report(console: Console, report: dict) -> None:
    ck = report["checkpoint"]
    step = f", step {ck['step']}" if ck["step"] is not None else ""
    table = Table(title=f"{ck['label']} ({ck['policy_type']}{step}) on {report['device']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in summary_rows(report):
        table.add_row(name, value)
    console.print(table)
    eps = Table(title="per episode")
    for col in ("episode", "frames", "MSE", "MAE", "gripper agree"):
        eps.add_column(col, justify="right")
    for row in report["per_episode"]:
        eps.add_row(
            str(row["episode"]), str(row["n_frames"]), _f(row["mse"]), _f(row["mae"]),
            _pct(row["gripper_agreement"]),
        )  # fmt: skip
    console.print(eps)
    for warning in report["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    console.print(f"report: {report['out_dir']}/report.md")


def markdown(report: dict) -> str:
    ck, ds = report["checkpoint"], report["dataset"]
    lines = [
        f"# Offline evaluation: {ck['label']}",
        "",
        f"- checkpoint: `{ck['pretrained_dir']}` ({ck['policy_type']}, step {ck['step']})",
        f"- dataset: `{ds['root']}` ({ds['repo_id']}, {ds['fps']:g} fps)",
        f"- episodes: {', '.join(map(str, report['episodes']))} ({report['episodes_source']})",
        f"- device: {report['device']}; chunking: {report['policy']['chunking']}",
        "",
    ]
    lines += [f"> **warning**: {w}" for w in report["warnings"]]
    lines += ["", "## Summary", "", "| metric | value |", "| --- | --- |"]
    lines += [f"| {k.strip()} | {v} |" for k, v in summary_rows(report)]
    lines += ["", "## Per joint", "", "| # | joint | unit | MSE | MAE |", "| --- | --- | --- | --- | --- |"]
    lines += [
        f"| {r['index']} | {r['name']} | {r['unit']} | {_f(r['mse'])} | {_f(r['mae'])} |"
        for r in report["per_joint"]
    ]
    lines += ["", "## Per episode", "", "| episode | frames | MSE | MAE | gripper MAE | gripper agreement |"]
    lines += ["| --- | --- | --- | --- | --- | --- |"]
    lines += [
        f"| {r['episode']} | {r['n_frames']} | {_f(r['mse'])} | {_f(r['mae'])} | {_f(r['gripper_mae'])} | "
        f"{_pct(r['gripper_agreement'])} |"
        for r in report["per_episode"]
    ]
    evt = report["error_vs_time"]
    lines += [
        "",
        "## Error vs time in episode",
        "",
        "| time in episode | MSE | frames |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| {100 * lo:.0f}–{100 * hi:.0f} % | {_f(m)} | {n} |"
        for lo, hi, m, n in zip(
            evt["bin_edges"][:-1], evt["bin_edges"][1:], evt["mse"], evt["n_frames"], strict=True
        )
    ]
    if report["error_by_chunk_position"]:
        lines += [
            "",
            "## Error by position in the action chunk",
            "",
            "| k | MSE | frames |",
            "| --- | --- | --- |",
        ]
        lines += [
            f"| {r['k']} | {_f(r['mse'])} | {r['n_frames']} |" for r in report["error_by_chunk_position"]
        ]
    if report["plots"]:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in report["plots"]]
    return "\n".join(lines) + "\n"


def write_report(out: Path, report: dict) -> None:
    write_json(out / "report.json", report)
    write_text(out / "report.md", markdown(report))


def ranking(reports: list[dict]) -> list[dict]:
    """Checkpoints ordered by overall MSE on their episodes (lower first)."""
    rows = [
        {
            "label": r["checkpoint"]["label"],
            "checkpoint": r["checkpoint"]["pretrained_dir"],
            "policy_type": r["checkpoint"]["policy_type"],
            "step": r["checkpoint"]["step"],
            "mse": r["overall"]["mse"],
            "mae": r["overall"]["mae"],
            "gripper_agreement": r["overall"]["gripper_agreement"],
            "p95_ms": r["latency"]["p95_ms"],
            "realtime": r["latency"]["realtime"],
            "episodes": r["episodes"],
            "report": str(Path(r["out_dir"]) / "report.json"),
        }
        for r in reports
    ]
    rows.sort(key=lambda row: row["mse"])
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def comparison_warnings(reports: list[dict]) -> list[str]:
    episode_sets = {tuple(r["episodes"]) for r in reports}
    datasets = {r["dataset"]["root"] for r in reports}
    if len(episode_sets) > 1 or len(datasets) > 1:
        return ["the checkpoints were scored on different episodes or datasets; pass --dataset and --episodes "
                "to rank them on the same ones"]  # fmt: skip
    return []


def print_ranking(console: Console, comparison: dict) -> None:
    table = Table(title="Ranking (overall MSE on the same episodes, lower is better)")
    for col in ("rank", "checkpoint", "policy", "step", "MSE", "MAE", "gripper agree", "p95 ms", "realtime"):
        table.add_column(
            col, justify="left" if col in ("checkpoint", "policy") else "right", overflow="fold",
            min_width=len(col) if col != "checkpoint" else 12,
        )  # fmt: skip
    for row in comparison["ranking"]:
        table.add_row(
            str(row["rank"]), row["label"], row["policy_type"], str(row["step"]), _f(row["mse"]), _f(row["mae"]),
            _pct(row["gripper_agreement"]), _f(row["p95_ms"], ".2f"), _f(row["realtime"]),
        )  # fmt: skip
    console.print(table)
    for warning in comparison["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {warning}")


def comparison_markdown(comparison: dict) -> str:
    lines = ["# Checkpoint comparison", "", "Ranked by overall MSE (lower is better).", ""]
    lines += [f"> **warning**: {w}" for w in comparison["warnings"]]
    lines += [
        "| rank | checkpoint | policy | step | MSE | MAE | gripper agreement | p95 ms | realtime | report |"
    ]
    lines += ["| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [
        f"| {r['rank']} | {r['label']} | {r['policy_type']} | {r['step']} | {_f(r['mse'])} | {_f(r['mae'])} | "
        f"{_pct(r['gripper_agreement'])} | {_f(r['p95_ms'], '.2f')} | {_f(r['realtime'])} | {r['report']} |"
        for r in comparison["ranking"]
    ]
    if comparison.get("plots"):
        lines += ["", *[f"![{p}]({p})" for p in comparison["plots"]]]
    return "\n".join(lines) + "\n"
