"""`kuavo eval CKPT [CKPT ...]`: offline scores of checkpoints on held-out demonstrations, plus latency."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kuavo_cli.cli.options import JsonOpt
from kuavo_cli.cli.output import print_json, stderr_console, stdout_console


def eval_checkpoints(
    checkpoints: Annotated[
        list[str],
        typer.Argument(
            help="Run folder (uses best, else last), checkpoints/<step> folder or pretrained_model folder; "
            "several are ranked against each other.",
            show_default=False,
        ),
    ],
    dataset: Annotated[
        str | None,
        typer.Option(help="Dataset folder or repo id (default: the one the checkpoint was trained on)."),
    ] = None,
    episodes: Annotated[
        str | None,
        typer.Option(help="Episodes to replay, e.g. 0,3,5-7 (default: the run's held-out split)."),
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="cpu or cuda (default: cuda when available, else cpu).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Report folder (default: <run>/eval/<step>, or ./outputs/eval/<name>)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for sampling policies such as Diffusion.")] = 0,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the PNG plots.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Replay held-out episodes through each checkpoint as the robot would; report error, latency, memory."""
    from kuavo_cli.evaluate.api import evaluate_many, print_results

    result = evaluate_many(
        checkpoints, dataset=dataset, episodes=episodes, device=device, out=out, seed=seed,
        plots_enabled=not no_plots, console=stderr_console(),
    )  # fmt: skip
    if json_out:
        err = stderr_console()
        for report in result["reports"]:
            for warning in report["warnings"]:
                err.print(f"[yellow]warning:[/yellow] {report['checkpoint']['label']}: {warning}")
        # One checkpoint: its report (same as report.json); several: the ranking with every report.
        comparison = result["comparison"]
        print_json({**comparison, "reports": result["reports"]} if comparison else result["reports"][0])
    else:
        print_results(stdout_console(), result)


def register(app: typer.Typer) -> None:
    app.command(
        "eval",
        epilog="Example: kuavo eval outputs/train/my_run outputs/train/other_run",
    )(eval_checkpoints)
