"""`kuavo inspect`: summarise a LeRobot dataset, a folder of rosbags or a training run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kuavo_cli.cli.options import JsonOpt

EXAMPLE = "Example: kuavo inspect data/kuavo_synth --episode 0 --frames --out plots/"


def inspect(
    target: Annotated[
        str,
        typer.Argument(
            help="Dataset folder, rosbag folder (or .bag), training run / checkpoint folder, or a cached repo id."
        ),
    ],
    episode: Annotated[
        int | None, typer.Option("--episode", help="Also describe this episode (datasets).")
    ] = None,
    frames: Annotated[
        bool,
        typer.Option(
            "--frames",
            help="Write a PNG contact sheet of camera frames and a state/action plot of --episode.",
        ),
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for PNGs (default: ./kuavo-inspect/<name>).")
    ] = None,
    chunk_size: Annotated[
        int | None, typer.Option("--chunk-size", help="Warn about episodes shorter than this policy chunk.")
    ] = None,
    revision: Annotated[str | None, typer.Option("--revision", help="Revision of a cached repo id.")] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write the run's loss-curve PNG.")] = True,
    json_out: JsonOpt = False,
) -> None:
    """Show what is in a dataset / rosbags / run: layout, stats, Kuavo schema check, plots."""
    from kuavo_cli.cli.output import emit
    from kuavo_cli.inspect.api import InspectOptions, inspect_target
    from kuavo_cli.inspect.render import render

    report = inspect_target(target, InspectOptions(episode, frames, out, chunk_size, revision, plots))
    emit(report, json_out, render)


def register(app: typer.Typer) -> None:
    app.command("inspect", epilog=EXAMPLE)(inspect)
