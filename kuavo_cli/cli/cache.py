"""`kuavo cache DATASET`: decode every camera frame once into a memory-mapped cache for fast training;
`--plan` lists the options and the disk each needs on this machine, writing nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kuavo_cli.cli.options import JsonOpt

EXAMPLE = (
    "Example: kuavo cache data/synthetic --out .cache/frames  (first `--plan --policy pi05`: the options and "
    "the disk each needs here; `--resolution policy --policy pi05 --max-disk 60G`: a pi05-size cache)"
)


def _print_plan(plan: dict, console) -> None:
    from rich.table import Table

    from kuavo_cli.hub.sizes import human_bytes

    console.print(
        f"Dataset {plan['dataset']}: {plan['frames']} frames, {len(plan['cameras'])} cameras, "
        f"{'/'.join(plan['codecs'])} videos {human_bytes(plan['video_bytes'])}"
    )
    limit = f", --max-disk {human_bytes(plan['max_bytes'])}" if plan["max_bytes"] else ""
    console.print(f"Cache folder {plan['cache_dir']}: {human_bytes(plan['free_bytes'])} free{limit}")
    table = Table(title=f"Ways to feed the training loop (policy: {plan['policy'] or 'not given'})")
    for col in ("option", "extra disk", "fits", "cached frame", "model inputs"):
        table.add_column(col)
    for o in plan["options"]:
        shape = "x".join(str(d) for d in o["frame_shape"]) if o["frame_shape"] else "-"
        table.add_row(
            o["name"], human_bytes(o["bytes"]), "yes" if o["fits"] else "NO", shape, o["model_inputs"]
        )
    console.print(table)
    for o in plan["options"]:
        config = ", ".join(f"{k}: {str(v).lower()}" for k, v in o["config"].items())
        console.print(f"  {o['name']} (dataset: {{{config}}}): {o['note']}")
    console.print(f"Fastest option that fits: {plan['recommended']}")


def cache(
    dataset: Annotated[Path, typer.Argument(help="Local LeRobot dataset folder (meta/info.json inside).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Cache folder (default $KUAVO_CACHE_DIR or ~/.cache/kuavo/frames)."),
    ] = None,
    plan: Annotated[
        bool, typer.Option("--plan", help="List the options and the disk each needs here; write nothing.")
    ] = False,
    policy: Annotated[
        str | None,
        typer.Option(help="Policy type (pi05, act, ...) or a `kuavo train` config: what the model consumes."),
    ] = None,
    resolution: Annotated[
        str, typer.Option(help="native (the video's frames) or policy (resized as the policy resizes).")
    ] = "native",
    max_disk: Annotated[
        str | None, typer.Option(help="Refuse a cache larger than this (e.g. 60G), before writing.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if a valid cache exists.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Decode every camera frame once into a memory-mapped uint8 cache; train with `dataset.cache: true`."""
    from kuavo_cli.cli.output import emit, stderr_console
    from kuavo_cli.data import api
    from kuavo_cli.hub.sizes import parse_bytes

    limit = parse_bytes(max_disk) if max_disk is not None else None
    if plan:
        emit(api.plan_frame_cache(dataset, policy, out, limit), json_out, _print_plan)
        return
    result = api.build_frame_cache(dataset, out, policy, resolution, limit, force, console=stderr_console())
    emit(result, json_out, _print_built)


def _print_built(result: dict, console) -> None:
    from kuavo_cli.hub.sizes import human_bytes

    verb = "built" if result["built"] else "up to date"
    shape = "x".join(str(d) for d in result["frame_shape"])
    console.print(
        f"Frame cache {verb}: {result['cache']} ({result['frames']} frames of {shape}, "
        f"{human_bytes(result['bytes'])}, {result['seconds']:.1f} s)"
    )
    for stale in result["removed_stale"]:
        console.print(f"removed stale cache {stale}")
    section = result["config"]["dataset"]
    sets = " ".join(
        f"--set dataset.{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in section.items()
    )
    console.print(f"Train from it with: {sets}")


def register(app: typer.Typer) -> None:
    app.command("cache", epilog=EXAMPLE, no_args_is_help=True)(cache)
