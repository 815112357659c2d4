"""`kuavo convert BAGS... --out DATASET`: raw Kuavo ROS1 bags -> one LeRobot v3.0 dataset (no ROS needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kuavo_cli.cli.options import ForceOpt, JsonOpt
from kuavo_cli.cli.output import emit, stderr_console
from kuavo_cli.convert.config import ConvertConfig
from kuavo_cli.errors import UsageError

EXAMPLE = "Example: kuavo convert data/raw/task1 --out data/task1_lerobot --task-description 'Sort the toys'"


def _help(name: str) -> str:
    field = ConvertConfig.model_fields[name]
    default = field.default
    shown = "auto" if default is None else default
    if isinstance(shown, bool):
        shown = f"--{name.replace('_', '-')}" if shown else f"--no-{name.replace('_', '-')}"
    return f"{field.description} (default: {shown})"


HubOpt = Annotated[
    str | None,
    typer.Option(
        "--hub",
        help="Fetch the bags from this hub repo instead (e.g. LejuRobotics/kuavo_data_challenge_icra): "
        "download, convert and delete them in a pipeline under --max-disk; --out is then a folder with "
        "one dataset per task folder.",
        rich_help_panel="From the hub",
    ),
]


def _hub_opt(help_text: str, flag: str, multiple: bool = False):
    kind = list[str] | None if multiple else str | None
    return Annotated[kind, typer.Option(flag, help=help_text, rich_help_panel="From the hub")]


def convert(
    bags: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Bag files, or folders of *.bag files (not recursive). With --merge: the datasets to merge.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Dataset folder to create.", show_default=False)
    ] = None,
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
    gop: Annotated[int | None, typer.Option(help=_help("gop"))] = None,
    crf: Annotated[int | None, typer.Option(help=_help("crf"))] = None,
    preset: Annotated[str | None, typer.Option(help=_help("preset"))] = None,
    streaming_encoding: Annotated[
        bool | None,
        typer.Option("--streaming-encoding/--no-streaming-encoding", help=_help("streaming_encoding")),
    ] = None,
    workers: Annotated[int | None, typer.Option(help=_help("workers"))] = None,
    limit: Annotated[int | None, typer.Option(help=_help("limit"))] = None,
    shard: Annotated[str | None, typer.Option(help=_help("shard"))] = None,
    strict: Annotated[bool | None, typer.Option("--strict", help=_help("strict"))] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted conversion; finished episodes are kept.")
    ] = False,
    merge: Annotated[
        bool,
        typer.Option(
            "--merge",
            help="Merge the converted datasets given as arguments (e.g. the shards of several machines) "
            "into --out, with lerobot's aggregation.",
        ),
    ] = False,
    profile: Annotated[
        bool, typer.Option("--profile", help="Print where the time goes (CPU seconds per stage).")
    ] = False,
    hub: HubOpt = None,
    task: _hub_opt(
        "Task folder: 1, 2, 3 (sim tasks) or a folder name part (repeatable).", "--task", True
    ) = None,
    episodes: _hub_opt("Only these bags of each task folder, e.g. 0-99 or 0-9,20.", "--episodes") = None,
    source: _hub_opt("sim or real.", "--source") = None,
    include: _hub_opt("Only repo paths matching this glob (repeatable).", "--include", True) = None,
    exclude: _hub_opt("Skip repo paths matching this glob (repeatable).", "--exclude", True) = None,
    revision: _hub_opt("Branch, tag or commit (default: main).", "--revision") = None,
    max_disk: _hub_opt("Most raw bags on disk at once, e.g. 50GB (default: 20GB).", "--max-disk") = None,
    raw_dir: Annotated[
        Path | None,
        typer.Option(
            "--raw-dir",
            help="Where bags wait to be converted (default: OUT/.kuavo-raw).",
            rich_help_panel="From the hub",
        ),
    ] = None,
    download_workers: Annotated[
        int,
        typer.Option("--download-workers", help="Parallel bag downloads.", rich_help_panel="From the hub"),
    ] = 2,
    verify: Annotated[
        bool,
        typer.Option("--verify/--no-verify", help="Check each bag's sha256.", rich_help_panel="From the hub"),
    ] = True,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Read options from the `convert:` section of this YAML file."),
    ] = None,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Convert raw Kuavo ROS1 bags into one LeRobot v3.0 dataset (10 fps, AV1), in parallel, skipping bad bags.

    Local bags: BAGS... --out DATASET. From the hub under a disk cap: --hub REPO --out DIR --max-disk 50GB.
    Shards of several machines: --shard I/N, then --merge A B ... --out DATASET.
    """
    from kuavo_cli.cli import convert_report as report
    from kuavo_cli.convert import api

    if out is None:
        raise UsageError("--out is required", "kuavo convert BAG_DIR --out DATASET_DIR")
    hub_flags = [task, episodes, source, include, exclude, revision, max_disk, raw_dir]
    if hub is None and any(v for v in hub_flags):
        raise UsageError(
            "--task/--episodes/--source/--include/--exclude/--revision/--max-disk/--raw-dir need --hub"
        )
    if merge:
        if hub is not None:
            raise UsageError("--merge and --hub cannot be combined", "convert first, then merge")
        merged = api.merge_datasets(list(bags or []), out, force=force, repo_id=repo_id)
        emit(merged.to_dict(), json_out, lambda _, console: report.print_merge(merged, console))
        return
    options = dict(
        task_description=task_description, repo_id=repo_id, fps=fps, camera_fps=camera_fps,
        drop_frames=drop_frames, depth=depth, arms=arms, gripper=gripper, size=size, vcodec=vcodec, gop=gop,
        crf=crf, preset=preset, streaming_encoding=streaming_encoding, workers=workers, limit=limit,
        shard=shard, strict=strict,
    )  # fmt: skip
    cfg = api.load_convert_config(config, options)
    if hub is not None:
        if bags:
            raise UsageError("bag arguments and --hub cannot be combined", "pick local bags or a hub repo")
        with report.hub_progress(stderr_console()) as on_event:
            hub_summary = api.convert_hub(
                hub, out, cfg, tasks=task, episodes=episodes, source=source, include=include,
                exclude=exclude, revision=revision, max_disk=max_disk, raw_dir=raw_dir,
                download_workers=download_workers, verify=verify, force=force, on_event=on_event,
                profile=profile,
            )  # fmt: skip
        emit(hub_summary.to_dict(), json_out, lambda _, console: report.print_hub(hub_summary, console))
        api.check_hub(hub_summary)
        return
    with report.bag_progress(stderr_console()) as on_bag:
        summary = api.convert_bags(bags or [], out, cfg, resume, force, progress=on_bag, profile=profile)
    emit(summary.to_dict(), json_out, lambda _, console: report.print_summary(summary, console))
    api.check_local(summary)


def register(app: typer.Typer) -> None:
    app.command("convert", no_args_is_help=True, epilog=EXAMPLE)(convert)
