"""`kuavo bench`'s human output: the absolute numbers, the ratios over lerobot, the targets (rich tables)."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_report(report: dict[str, Any], console: Any) -> None:
    """Human tables: absolute numbers, then ratios over lerobot, then the targets."""
    from rich.table import Table

    m = report["machine"]
    console.print(
        f"Machine: {m['cpu_count']} CPUs ({m['usable_cpus']} usable), {'GPU ' + m['gpu'] if m['cuda'] else 'no GPU'}"
        f"; torch {m['torch']}, lerobot {m['lerobot']}, torchcodec {m['torchcodec']}; "
        f"load average {report['load_average_before']} -> {report['load_average_after']}"
    )
    d = report["dataset"]
    console.print(
        f"Dataset: {d['episodes']} episodes, {d['frames']} frames, {d['fps']} fps, cameras {d['cameras']}"
    )
    console.print(
        f"Videos: {'/'.join(d['codecs'])}, {d['video_bytes_per_1k_frames'] / 1e6:.1f} MB per 1k frames"
    )
    for name in ("cache_build", "cache_build_policy"):
        c = report.get(name)
        if c:
            console.print(
                f"Frame cache{' ' + c['resize'] if c['resize'] else ''}: built in {c['seconds']} s, "
                f"{c['bytes'] / 1e9:.2f} GB ({c['frames']} frames), {c['bytes_per_1k_frames'] / 1e9:.2f} GB per 1k frames"
            )
    for mode, res in report.get("pipeline", {}).items():
        table = Table(title=f"Data pipeline ({mode} mode): samples/s delivered to the training loop")
        for col in (
            "variant",
            "samples/s",
            "x lerobot",
            "CPU ms/sample",
            "samples/s/core",
            "CPU x",
            "1st batch s",
            "peak PSS MB",
        ):
            table.add_column(col, justify="right")
        for variant, r in res["variants"].items():
            ratio = res["ratios_vs_lerobot"].get(variant, {})
            table.add_row(
                variant,
                _fmt(r.get("samples_per_s")),
                _fmt(ratio.get("samples_per_s"), 2) if ratio else "1.00",
                _fmt(r.get("cpu_ms_per_sample")),
                _fmt(r.get("samples_per_core_s")),
                _fmt(ratio.get("cpu_efficiency"), 2) if ratio else "1.00",
                _fmt(r.get("first_batch_s")),
                _fmt(r.get("peak_pss_mb"), 0),
            )
        console.print(table)
    train = report.get("train")
    if train:
        table = Table(title="Training (steady state, start-up excluded)")
        for col in ("tool", "samples/s", "x lerobot-train", "wall s", "start-up s", "CPU s", "peak RSS MB",
                    "peak PSS MB", "peak GPU MB"):  # fmt: skip
            table.add_column(col, justify="right")
        for tool, r in train["runs"].items():
            ratio = train["ratios_vs_lerobot"].get(tool, {})
            table.add_row(
                tool if r.get("ok") else f"{tool} (FAILED, see {r.get('log')})",
                _fmt(r.get("samples_per_s"), 2),
                _fmt(ratio.get("samples_per_s"), 2) if ratio else "1.00",
                _fmt(r.get("wall_s")),
                _fmt(r.get("startup_s")),
                _fmt(r.get("cpu_s")),
                _fmt(r.get("peak_rss_mb"), 0),
                _fmt(r.get("peak_pss_mb"), 0),
                _fmt(r.get("peak_gpu_mb"), 0),
            )
        console.print(table)
    table = Table(title="Targets")
    for col in ("target", "want", "got", "met"):
        table.add_column(col)
    for row in report["targets"]:
        table.add_row(row["target"], f">= {row['want']}" if isinstance(row["want"], float) else row["want"],
                      _fmt(row["got"], 2), "yes" if row["met"] else "NO")  # fmt: skip
    console.print(table)
