"""`kuavo convert BAGS... --out DATASET`: raw Kuavo ROS1 bags -> one LeRobot v3.0 dataset (no ROS needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from kuavo_cli.cli.options import ForceOpt, JsonOpt
from kuavo_cli.cli.output import print_json, stderr_console, stdout_console
from kuavo_cli.convert.config import ConvertConfig
from kuavo_cli.errors import ConfigError, KuavoError


def _help(name: str) -> str:
    field = ConvertConfig.model_fields[name]
    default = field.default
    shown = "auto" if default is None else default
    if isinstance(shown, bool):
        shown = f"--{name.replace('_', '-')}" if shown else f"--no-{name.replace('_', '-')}"
    return f"{field.description} (default: {shown})"


def build_config(config_file: Path | None, flags: dict[str, Any]) -> ConvertConfig:
    """The `convert:` section of a config file (if given) < explicit flags; one error line per bad field."""
    from pydantic import ValidationError

    base: dict[str, Any] = {}
    if config_file is not None:
        from kuavo_cli.config.loader import read_yaml

        section = read_yaml(config_file).get("convert") or {}
        if not isinstance(section, dict):
            raise ConfigError(["convert: must be a mapping of convert options"], str(config_file))
        base.update(section)
    base.update({k: v for k, v in flags.items() if v is not None})
    try:
        return ConvertConfig(**base)
    except ValidationError as err:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'convert'}: {e['msg']}" for e in err.errors()]
        raise ConfigError(problems, str(config_file) if config_file else "kuavo convert") from None


def convert(
    bags: Annotated[
        list[Path],
        typer.Argument(help="Bag files, or folders of *.bag files (not recursive).", show_default=False),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Dataset folder to create.", show_default=False)],
    task_description: Annotated[str | None, typer.Option(help=_help("task_description"))] = None,
    repo_id: Annotated[str | None, typer.Option(help=_help("repo_id"))] = None,
    fps: Annotated[int | None, typer.Option(help=_help("fps"))] = None,
    camera_fps: Annotated[int | None, typer.Option(help=_help("camera_fps"))] = None,
    drop_frames: Annotated[int | None, typer.Option(help=_help("drop_frames"))] = None,
    depth: Annotated[bool | None, typer.Option("--depth/--no-depth", help=_help("depth"))] = None,
    arms: Annotated[str | None, typer.Option(help=_help("arms"))] = None,
    gripper: Annotated[str | None, typer.Option(help=_help("gripper"))] = None,
    size: Annotated[str | None, typer.Option(help=_help("size"))] = None,
    vcodec: Annotated[str | None, typer.Option(help=_help("vcodec"))] = None,
    streaming_encoding: Annotated[
        bool | None,
        typer.Option("--streaming-encoding/--no-streaming-encoding", help=_help("streaming_encoding")),
    ] = None,
    workers: Annotated[int | None, typer.Option(help=_help("workers"))] = None,
    limit: Annotated[int | None, typer.Option(help=_help("limit"))] = None,
    strict: Annotated[bool | None, typer.Option("--strict", help=_help("strict"))] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted conversion; finished episodes are kept.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Read options from the `convert:` section of this YAML file."),
    ] = None,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Convert raw Kuavo ROS1 bags into one LeRobot v3.0 dataset (10 fps, AV1), in parallel, skipping bad bags."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from kuavo_cli.convert.pipeline import convert_bags

    flags = dict(
        task_description=task_description,
        repo_id=repo_id,
        fps=fps,
        camera_fps=camera_fps,
        drop_frames=drop_frames,
        depth=depth,
        arms=arms,
        gripper=gripper,
        size=size,
        vcodec=vcodec,
        streaming_encoding=streaming_encoding,
        workers=workers,
        limit=limit,
        strict=strict,
    )
    cfg = build_config(config, flags)
    err = stderr_console()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("Converting bags", total=None)

        def on_bag(result, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)
            if result.status == "skipped":
                progress.console.print(f"skipped {Path(result.path).name}: {result.reason}")

        summary = convert_bags(bags, out, cfg, resume=resume, force=force, progress=on_bag)

    if json_out:
        print_json(summary.to_dict())
    else:
        _print_summary(summary)
    if not summary.converted:
        raise KuavoError(
            f"no bag converted ({len(summary.skipped)} skipped); no dataset written",
            "see the reasons above; `kuavo inspect BAG` lists a bag's topics",
        )
    if not summary.written:
        raise KuavoError(
            f"--strict: {len(summary.skipped)} bag(s) skipped, so no dataset was written "
            f"(finished episodes are kept in {summary.staging})",
            "fix or remove those bags, then rerun with --resume",
        )


def _print_summary(summary) -> None:
    from rich.table import Table

    table = Table(title=None, show_edge=False)
    for col in ("bag", "result", "frames", "detail"):
        table.add_column(col)
    for r in summary.results:
        name = Path(r.path).name
        if r.status == "converted":
            detail = r.provenance.get("gripper_variant", "") + (" (resumed)" if r.reused else "")
            table.add_row(name, "[green]converted[/]", str(r.frames), detail)
        else:
            table.add_row(name, "[red]skipped[/]", "-", r.reason)
    console = stdout_console()
    console.print(table)
    t = summary.throughput()
    if summary.written:
        console.print(
            f"Wrote {len(summary.converted)} episodes ({summary.frames} frames) to {summary.out} "
            f"in {summary.seconds:.1f} s with {summary.workers} worker(s); {len(summary.skipped)} bag(s) skipped."
        )
        if t["frames_per_s_total"]:
            console.print(
                f"Throughput: {t['frames_per_s_total']} frames/s in all, {t['frames_per_s_per_worker']} "
                f"frames/s per worker; peak memory per worker {t['peak_rss_mb_per_worker']} MB."
            )


def register(app: typer.Typer) -> None:
    app.command(
        "convert",
        epilog="Example: kuavo convert data/raw/task1 --out data/task1_lerobot --task-description 'Sort the toys'",
    )(convert)
