"""`kuavo train CONFIG`: validate the config, then train in-process or relaunch under accelerate."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from kuavo_cli.cli.options import JsonOpt, SetOpt
from kuavo_cli.cli.output import print_json, stderr_console
from kuavo_cli.errors import KuavoError

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
    from kuavo_cli.train.api import resolve_config
    from kuavo_cli.train.launch import inside_launcher, relaunch

    console = stderr_console()
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
    cfg = resolve_config(config, overrides, flags, resume, console)
    if cfg.gpus > 1 and not inside_launcher():
        from kuavo_cli.train.preflight import check_before_launch

        check_before_launch(cfg, accelerate_config)
        from kuavo_cli.train.run_dir import default_output_dir

        child = _child_args()
        if cfg.output_dir is None and resume is None:
            child += ["--output-dir", str(default_output_dir(cfg))]  # every rank must agree on one folder
        code = relaunch(cfg.gpus, child, cfg.mixed_precision, cfg.cpu, main_process_port, accelerate_config)
        raise typer.Exit(code)
    result = _train_here(cfg, console, resume)
    if result.get("rank", 0) != 0:
        return
    if json_out:
        print_json(result)
    elif result:
        typer.echo(
            f"Trained {result['steps']} steps; best validation loss {result['best_val_loss']:.5f}; "
            f"run folder {result['run_dir']}"
        )


def _train_here(cfg, console, resume: Path | None) -> dict:
    from kuavo_cli.train import TrainingInterrupted
    from kuavo_cli.train.api import run_training

    try:
        return run_training(cfg, console=console, resume_from=resume)
    except TrainingInterrupted as stop:
        if int(os.environ.get("RANK", "0")) != 0:  # every rank stops; only the main one says so
            raise typer.Exit(stop.exit_code) from None
        raise
    except KuavoError:
        raise
    except Exception as err:
        advice = _advice(err, cfg)
        if advice:
            raise KuavoError(f"{type(err).__name__}: {str(err).splitlines()[0]}", advice) from err
        raise


def _advice(err: BaseException, cfg) -> str | None:
    try:
        from kuavo_cli.errors_advice import advice_for
    except ImportError:
        return None
    return advice_for(err, cfg.model_dump(mode="json"))


def _child_args() -> list[str]:
    """This command's own arguments (after `train`), as main() received them."""
    from kuavo_cli.cli import app as app_module

    args = app_module.INVOKED_ARGS or sys.argv[1:]
    return args[args.index("train") + 1 :] if "train" in args else list(args)


def register(app: typer.Typer) -> None:
    app.command("train", epilog=EXAMPLE)(train)
