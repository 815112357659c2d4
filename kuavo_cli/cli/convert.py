"""`kuavo convert BAGS... --out DATASET`: raw Kuavo ROS1 bags -> one LeRobot v3.0 dataset (no ROS needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from kuavo_cli.cli.options import ForceOpt, JsonOpt
from kuavo_cli.cli.output import print_json, stderr_console, stdout_console
from kuavo_cli.convert.config import ConvertConfig
from kuavo_cli.errors import ConfigError, KuavoError, UsageError


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
        from kuavo_cli.convert.merge import merge_datasets

        merged = merge_datasets(list(bags or []), out, force=force, repo_id=repo_id)
        print_json(merged.to_dict()) if json_out else report.print_merge(merged, stdout_console())
        return
    flags = dict(
        task_description=task_description, repo_id=repo_id, fps=fps, camera_fps=camera_fps,
        drop_frames=drop_frames, depth=depth, arms=arms, gripper=gripper, size=size, vcodec=vcodec, gop=gop,
        crf=crf, preset=preset, streaming_encoding=streaming_encoding, workers=workers, limit=limit,
        shard=shard, strict=strict,
    )  # fmt: skip
    cfg = build_config(config, flags)
    if hub is not None:
        if bags:
            raise UsageError("bag arguments and --hub cannot be combined", "pick local bags or a hub repo")
        if download_workers < 1:
            raise UsageError(f"--download-workers must be >= 1 (got {download_workers})")
        summary = _from_hub(hub, out, cfg, force, profile, task, episodes, source, include, exclude,
                            revision, max_disk, raw_dir, download_workers, verify)  # fmt: skip
        if json_out:
            print_json(summary.to_dict())
        else:
            report.print_hub(summary, stdout_console())
            for task in summary.tasks.values():
                if task.profile:
                    report.print_profile(task.profile, task.frames, stdout_console())
        report.raise_for_hub(summary)
        return
    if not bags:
        raise UsageError("no bag folder or file given", "kuavo convert BAG_DIR --out DATASET_DIR")
    from kuavo_cli.convert.pipeline import convert_bags

    with report.bag_progress(stderr_console()) as on_bag:
        summary = convert_bags(bags, out, cfg, resume=resume, force=force, progress=on_bag, profile=profile)
    if json_out:
        print_json(summary.to_dict())
    else:
        report.print_summary(summary, stdout_console())
        if summary.profile:
            report.print_profile(summary.profile, summary.frames, stdout_console())
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


def _from_hub(hub, out, cfg, force, profile, task, episodes, source, include, exclude, revision, max_disk,
              raw_dir, download_workers, verify):  # fmt: skip
    from kuavo_cli.convert.from_hub import HubSource, convert_from_hub
    from kuavo_cli.hub import DownloadRequest, FileFilter, parse_episodes
    from kuavo_cli.hub.sizes import parse_bytes

    filters = FileFilter(
        tasks=list(task or []), source=source, episodes=parse_episodes(episodes),
        include=list(include or []), exclude=list(exclude or []),
    )  # fmt: skip
    request = DownloadRequest(hub, "dataset", revision, raw_dir, filters)
    cap = parse_bytes(max_disk or "20GB")
    src = HubSource(request, cap, download_workers=download_workers, verify=verify)
    from kuavo_cli.cli import convert_report as report

    with report.hub_progress(stderr_console()) as on_event:
        return convert_from_hub(src, out, cfg, force=force, on_event=on_event, profile=profile)


def register(app: typer.Typer) -> None:
    app.command(
        "convert",
        no_args_is_help=True,
        epilog="Example: kuavo convert data/raw/task1 --out data/task1_lerobot --task-description 'Sort the toys'",
    )(convert)
