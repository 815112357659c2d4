"""`kuavo serve CKPT`: serve a checkpoint to the competition kit's client mode over ZeroMQ."""

from __future__ import annotations

from typing import Annotated

import typer

from kuavo_cli.cli.options import CheckpointArg, JsonOpt
from kuavo_cli.cli.output import print_json

EXAMPLE = "Example: kuavo serve outputs/train/run1 --port 5555"


def serve(
    checkpoint: CheckpointArg,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (loopback by default; others need --token).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="TCP port (0 picks a free one, printed when ready).")
    ] = 5555,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="KUAVO_SERVE_TOKEN",
            help="Require this api_token in every request.",
            show_default=False,
        ),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cuda or cpu.")] = "auto",
    max_message_mb: Annotated[
        float,
        typer.Option("--max-message-mb", help="Largest request accepted, in MiB (larger ones are dropped)."),
    ] = 64.0,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", help="Seed torch at start and at every reset (reproducible Diffusion sampling)."
        ),
    ] = None,
    instruction: Annotated[
        str | None,
        typer.Option(
            "--instruction",
            help="Language instruction for VLA policies (pi05, smolvla) when the kit sends none.",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Serve a policy to the kit's `policy_type: client` mode (ping, info, reset, select_action, kill)."""
    from kuavo_cli.serve.api import run_server

    result = run_server(
        checkpoint, host=host, port=port, token=token, device=device, max_message_mb=max_message_mb,
        seed=seed, task=instruction,
    )  # fmt: skip
    if json_out:
        print_json(result)


def register(app: typer.Typer) -> None:
    app.command("serve", no_args_is_help=True, epilog=EXAMPLE)(serve)
