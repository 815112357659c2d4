"""Option aliases shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite an existing output.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override any config field: --set policy.chunk_size=20 (repeatable)."),
]
CHECKPOINT_HELP = (
    "A run folder (uses checkpoints/best, else last), a checkpoints/<step> folder or a "
    "pretrained_model folder."
)
CheckpointArg = Annotated[Path, typer.Argument(help=CHECKPOINT_HELP, show_default=False)]
MaybeCheckpointArg = Annotated[Path | None, typer.Argument(help=CHECKPOINT_HELP, show_default=False)]
