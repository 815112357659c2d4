"""Human-readable `kuavo inspect` output (rich tables on stdout); `--json` prints the report dict instead."""

from __future__ import annotations

from pathlib import Path

from kuavo_cli.hub.sizes import human_bytes
from kuavo_cli.inspect.plots import text_histogram, text_plot

NUMERIC = {"min", "max", "mean", "std", "NaN", "count", "rate Hz", "fps", "files"}


def _table(title: str, *columns: str):
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for col in columns:
        table.add_column(col, justify="right" if col in NUMERIC else "left")
    return table


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.4g}" if isinstance(x, float) else str(x)


def _checks(report: dict, console) -> None:
    if not report["checks"]:
        console.print("Checks: no problems found.", highlight=False)
        return
    for c in report["checks"]:
        style = "yellow" if c["level"] == "warning" else "dim"
        console.print(f"[{style}]{c['level']}[/{style}]: {c['message']}", highlight=False)


def _outputs(report: dict, console) -> None:
    for label, path in report.get("outputs", {}).items():
        console.print(f"wrote {label.removesuffix('_png')}: {path}", highlight=False, markup=False)


def render_dataset(r: dict, console) -> None:
    console.print(
        f"LeRobot dataset {r['repo_id'] + ' ' if r['repo_id'] else ''}at {r['path']}",
        highlight=False,
        markup=False,
    )
    console.print(
        f"version {r['codebase_version']} · {r['fps']} fps · robot {r['robot_type']} · {r['episodes']} episodes"
        + (f" ({r['episodes_local']} on disk)" if r["episodes_local"] != r["episodes"] else "")
        + f" · "
        f"{r['frames']} frames · {r['duration_s']:.1f} s",
        highlight=False,
    )
    for t in r["tasks"]:
        console.print(f"task {t['task_index']}: {t['task']}", highlight=False, markup=False)
    feats = _table("features", "key", "dtype", "shape", "names")
    for f in r["features"]:
        names = f["names"] or []
        shown = ", ".join(names[:3]) + (f", … ({len(names)})" if len(names) > 3 else "")
        feats.add_row(f["key"], f["dtype"], "x".join(map(str, f["shape"])), shown)
    console.print(feats)
    cams = _table("cameras", "key", "codec", "resolution", "fps", "pix_fmt", "files")
    for c in r["cameras"]:
        cams.add_row(
            c["key"],
            _fmt(c["codec"]),
            f"{c['width']}x{c['height']}",
            _fmt(c["fps"]),
            _fmt(c["pix_fmt"]),
            str(c["files"]),
        )
    console.print(cams)
    for key, st in r["stats"].items():
        table = _table(f"{key} per joint", "joint", "min", "max", "mean", "std", "NaN")
        for j, name in enumerate(st["names"]):
            table.add_row(
                name,
                _fmt(st["min"][j]),
                _fmt(st["max"][j]),
                _fmt(st["mean"][j]),
                _fmt(st["std"][j]),
                str(st["nan_count"][j]),
            )
        console.print(table)
    lengths = r["episode_lengths"]
    console.print(
        f"episode length: min {lengths['min']}, mean {lengths['mean']:.1f}, max {lengths['max']} frames",
        highlight=False,
    )
    for line in text_histogram(lengths["histogram"]["edges"], lengths["histogram"]["counts"]):
        console.print(line, highlight=False, markup=False)
    if "episode" in r:
        e = r["episode"]
        console.print(
            f"episode {e['episode_index']}: {e['length']} frames, tasks: {'; '.join(e['tasks'])}",
            highlight=False,
        )
    _checks(r, console)
    _outputs(r, console)


def render_rosbags(r: dict, console) -> None:
    console.print(
        f"{r['bags']} bags ({r['readable']} readable, {human_bytes(r['total_bytes'])}, "
        f"{r['total_duration_s']:.1f} s) under {r['path']}",
        highlight=False,
        markup=False,
    )
    for e in r["entries"]:
        name = str(Path(e["path"]).relative_to(r["path"])) if e["path"] != r["path"] else Path(e["path"]).name
        if not e["ok"]:
            console.print(f"[red]cannot open[/red] {name}: {e['error']}", highlight=False)
            continue
        table = _table(
            f"{name}: {e['duration_s']:.1f} s, {e['messages']} messages", "topic", "type", "count", "rate Hz"
        )
        for t in e["topics"]:
            table.add_row(t["topic"], t["msgtype"], str(t["count"]), _fmt(t["rate_hz"]))
        console.print(table)
    _checks(r, console)


def render_run(r: dict, console) -> None:
    p = r["policy"]
    console.print(f"training run {r['run_dir'] or r['path']}", highlight=False, markup=False)
    if p:
        params = f"{p['parameters']:,}" if p.get("parameters") is not None else "?"
        console.print(
            f"policy {p['type']} · {params} parameters · checkpoint step {_fmt(p.get('step'))} · chunk {_fmt(p.get('chunk_size'))}",
            highlight=False,
        )
    console.print(
        f"steps {r['steps']} · checkpoints {', '.join(map(str, r['checkpoints'])) or 'none'} · "
        f"last {_fmt(r['last_step'])} · best link {_fmt(r['best_checkpoint_step'])}",
        highlight=False,
    )
    if r["best"]:
        console.print(
            f"best validation loss {r['best']['val_loss']:.5g} at step {r['best']['step']}", highlight=False
        )
    if r["val"]["points"]:
        console.print("validation loss by step:", highlight=False)
        for line in text_plot(r["val"]["steps"], r["val"]["loss"]):
            console.print(line, highlight=False, markup=False)
    if r["train"]["last_loss"] is not None:
        console.print(
            f"last train loss {r['train']['last_loss']:.5g} ({r['train']['points']} points)", highlight=False
        )
    _checks(r, console)
    _outputs(r, console)


def render(report: dict, console) -> None:
    {"dataset": render_dataset, "rosbags": render_rosbags, "run": render_run}[report["kind"]](report, console)
