"""Option aliases shared by several commands."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite an existing output.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override any config field: --set policy.chunk_size=20 (repeatable)."),
]
