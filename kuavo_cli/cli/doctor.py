"""`kuavo doctor`: check the environment (packages, FFmpeg, GPUs, accelerate, hub, wandb, disk, cores)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kuavo_cli.cli.options import JsonOpt
from kuavo_cli.cli.output import emit

EXAMPLE = "Example: kuavo doctor --path . --num-workers 2"


def doctor(
    path: Annotated[
        list[Path] | None,
        typer.Option(
            "--path",
            help="Where data or runs will go: report its free disk (repeatable). "
            "Default: the current folder and the HF cache.",
        ),
    ] = None,
    num_workers: Annotated[
        int | None,
        typer.Option(min=0, help="DataLoader workers per GPU you plan to use (default: the config default)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check that this machine can train: each line ok / warning / error with the command that fixes it.

    Exit code 1 when any check is an error (warnings do not fail).
    """
    from kuavo_cli.doctor.api import diagnose
    from kuavo_cli.doctor.report import print_report

    report = diagnose(paths=path, num_workers=num_workers)
    emit(report.as_dict(), json_out, lambda _, console: print_report(report.checks, console))
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("doctor", epilog=EXAMPLE)(doctor)
