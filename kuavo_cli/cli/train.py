"""`kuavo train CONFIG`: flags -> `kuavo_cli.train.api.train` (validation, relaunch, advice); prints the result."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from kuavo_cli.cli.options import JsonOpt, SetOpt
from kuavo_cli.cli.output import print_json, stderr_console

EXAMPLE = (
    "Example: kuavo train configs/act_task1.yaml --steps 20 --batch-size 8 "
    "--set dataset.root=data/task1_lerobot"
)


def train(
    config: Annotated[
        Path | None, typer.Argument(help="YAML training config (optional with --resume).", show_default=False)
    ] = None,
    policy: Annotated[str | None, typer.Option(help="Policy type (act, diffusion, pi05, ...).")] = None,
    gpus: Annotated[
        int | None, typer.Option(min=1, help="Processes/GPUs; >1 relaunches via accelerate.")
    ] = None,
    cpu: Annotated[
        bool, typer.Option("--cpu", help="Run on CPU (with --gpus N: N CPU processes, gloo).")
    ] = False,
    grad_accum: Annotated[int | None, typer.Option(min=1, help="Gradient accumulation steps.")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Per-GPU batch size.")] = None,
    steps: Annotated[int | None, typer.Option(min=1, help="Optimizer steps.")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate (sets optimizer.lr).")] = None,
    mixed_precision: Annotated[
        str | None, typer.Option("--mixed-precision", help="no, fp16 or bf16.")
    ] = None,
    output_dir: Annotated[Path | None, typer.Option(help="Run folder.")] = None,
    overrides: SetOpt = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue a run: its folder or one of its checkpoints/<step>.")
    ] = None,
    main_process_port: Annotated[
        int | None, typer.Option(help="Port for the multi-process rendezvous.")
    ] = None,
    accelerate_config: Annotated[
        Path | None, typer.Option(help="An accelerate config file to launch with.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Train a LeRobot policy on 1..N GPUs (or CPU processes) with one Accelerate trainer."""
    from kuavo_cli.train import TrainingInterrupted
    from kuavo_cli.train.api import train as train_policy
    from kuavo_cli.train.launch import LaunchedProcessesFailed

    flags = {
        "policy": policy,
        "gpus": gpus,
        "grad_accum": grad_accum,
        "batch_size": batch_size,
        "steps": steps,
        "lr": lr,
        "mixed_precision": mixed_precision,
        "output_dir": str(output_dir) if output_dir else None,
        "cpu": True if cpu else None,
    }
    try:
        result = train_policy(
            config,
            overrides,
            flags,
            resume,
            stderr_console(),
            main_process_port=main_process_port,
            accelerate_config=accelerate_config,
            child_cli_args=["--json"] if json_out else [],
        )
    except TrainingInterrupted as stop:
        if int(os.environ.get("RANK", "0")) != 0:  # every rank stops; only the main one says so
            raise typer.Exit(stop.exit_code) from None
        raise
    except LaunchedProcessesFailed as failed:  # the processes have printed their own error
        raise typer.Exit(failed.exit_code) from None
    if result.get("launched") or result.get("rank", 0) != 0:  # the launched rank 0 printed the result
        return
    if json_out:
        print_json(result)
    else:
        typer.echo(
            f"Trained {result['steps']} steps; best validation loss {result['best_val_loss']:.5f}; "
            f"run folder {result['run_dir']}"
        )


def register(app: typer.Typer) -> None:
    app.command("train", epilog=EXAMPLE)(train)
