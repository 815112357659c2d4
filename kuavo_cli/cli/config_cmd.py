"""`kuavo config show|validate FILE`: the fully resolved config, or exit 0/2."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from kuavo_cli.cli.options import JsonOpt, SetOpt
from kuavo_cli.cli.output import emit, print_json, stderr_console

config_app = typer.Typer(
    help="Show or validate a training config file.",
    no_args_is_help=True,
)

FileArg = Annotated[Path, typer.Argument(help="YAML training config.", show_default=False)]


@config_app.command(
    "show",
    epilog="Example: kuavo config show templates/examples/config_single_gpu.yaml --set steps=100",
)
def show(file: FileArg, overrides: SetOpt = None, json_out: JsonOpt = False) -> None:
    """Print the fully resolved config (defaults, file and --set overrides merged; policy expanded)."""
    from kuavo_cli.config.api import resolved_config

    emit(resolved_config(file, overrides), json_out, _print_yaml)


def _print_yaml(data: dict, console) -> None:
    console.out(yaml.safe_dump(data, sort_keys=False, default_flow_style=None).rstrip(), highlight=False)


@config_app.command(
    "validate",
    epilog="Example: kuavo config validate templates/examples/config_multi_gpu.yaml",
)
def validate(file: FileArg, overrides: SetOpt = None, json_out: JsonOpt = False) -> None:
    """Check a config: exit 0 when valid, 2 with one line per problem otherwise."""
    from kuavo_cli.config.api import check_config

    cfg = check_config(file, overrides)
    if json_out:
        print_json({"valid": True, "file": str(file), "effective_batch_size": cfg.effective_batch_size()})
    else:
        stderr_console().print(
            f"[green]OK[/green] {file}: policy {cfg.policy.type}, {cfg.steps} steps, "
            f"effective batch {cfg.effective_batch_size()} "
            f"({cfg.batch_size} x {cfg.gpus} GPU(s) x {cfg.gradient_accumulation_steps} accumulation)"
        )
