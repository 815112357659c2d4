"""`kuavo doctor`: check the environment (packages, FFmpeg, GPUs, accelerate, hub, wandb, disk, cores)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kuavo_cli.cli.options import JsonOpt
from kuavo_cli.cli.output import print_json, stdout_console

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
    from kuavo_cli.doctor import run_checks, summary
    from kuavo_cli.doctor.report import print_report

    checks = run_checks(paths=path, num_workers=num_workers)
    counts = summary(checks)
    if json_out:
        print_json({"ok": counts["error"] == 0, "summary": counts, "checks": [c.as_dict() for c in checks]})
    else:
        print_report(checks, stdout_console())
    if counts["error"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("doctor", epilog=EXAMPLE)(doctor)
