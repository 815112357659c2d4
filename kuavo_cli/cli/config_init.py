"""`kuavo config-init`: a wizard (arrow keys) or flags -> a commented training YAML from templates/train.yaml."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from kuavo_cli.cli.options import ForceOpt, JsonOpt
from kuavo_cli.cli.output import print_json, stderr_console

EXAMPLE = (
    "Example: kuavo config-init --task 1 --policy act --gpus 4 --batch-size 8 --grad-accum 4 "
    "--steps 20000 --mixed-precision bf16 --no-wandb --out configs/act_task1.yaml --yes"
)


def config_init(
    task: Annotated[str | None, typer.Option(help="Challenge task: 1, 2, 3 (sim) or real.")] = None,
    dataset: Annotated[
        str | None, typer.Option(help="Local LeRobot dataset folder, or a hub repo id (owner/name).")
    ] = None,
    policy: Annotated[
        str | None, typer.Option(help="Policy: act, diffusion, pi05, smolvla, pi0, vqbet (any lerobot type).")
    ] = None,
    gpus: Annotated[int | None, typer.Option(help="Number of GPUs (processes) to train on.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size per GPU.")] = None,
    grad_accum: Annotated[int | None, typer.Option(help="Gradient accumulation steps.")] = None,
    steps: Annotated[int | None, typer.Option(help="Training (optimizer) steps.")] = None,
    mixed_precision: Annotated[str | None, typer.Option(help="Mixed precision: no, fp16 or bf16.")] = None,
    wandb: Annotated[bool | None, typer.Option("--wandb/--no-wandb", help="Log to Weights & Biases.")] = None,
    wandb_mode: Annotated[
        str | None,
        typer.Option(help="wandb mode: auto (online with an API key, else offline), online, offline."),
    ] = None,
    wandb_project: Annotated[str | None, typer.Option(help="wandb project.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Config file to write (default configs/<policy>_<task>.yaml).")
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Ask nothing: flags, then the template's defaults.")
    ] = False,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Write a commented training config: asks each question with arrow keys, or takes it from a flag.

    Without a terminal (or with --yes) nothing is asked: unanswered questions take the defaults of
    templates/train.yaml, listed on stderr. The file is validated before it is written, and an existing
    file is only replaced with --force.
    """
    from kuavo_cli.config.api import init_config
    from kuavo_cli.config.wizard import display
    from kuavo_cli.config.wizard_prompt import questionary_prompter

    given = dict(
        task=task, dataset=dataset, policy=policy, gpus=gpus, batch_size=batch_size, grad_accum=grad_accum,
        steps=steps, mixed_precision=mixed_precision, wandb=wandb, wandb_mode=wandb_mode,
        wandb_project=wandb_project, out=out,
    )  # fmt: skip
    interactive = not yes and sys.stdin.isatty() and sys.stderr.isatty()
    prompter = questionary_prompter(force) if interactive else None
    result = init_config(given, prompter, force=force)

    log = stderr_console()
    if result.defaults_used:
        why = "--yes" if yes else "no terminal on stdin"
        used = ", ".join(f"{k}={display(v)}" for k, v in result.defaults_used.items())
        log.print(f"Using defaults ({why}; pass flags to choose): {used}", highlight=False, markup=False)
    note = result.dataset_note()
    if note:
        log.print(note, highlight=False, markup=False)
    if json_out:
        print_json(result.as_dict())
        return
    a = result.answers
    typer.echo(f"Wrote {result.path} (task {a.task_name}, policy {a.policy}, dataset {a.dataset})")
    typer.echo(
        f"Effective batch size: {a.batch_size} per GPU x {a.gpus} GPU(s) x {a.grad_accum} accumulation "
        f"= {a.effective_batch_size}"
    )
    typer.echo(f"Train with: {a.train_command()}")


def register(app: typer.Typer) -> None:
    app.command("config-init", epilog=EXAMPLE)(config_init)
