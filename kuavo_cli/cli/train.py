"""`kuavo train` (not built yet)."""

from __future__ import annotations

import typer

from kuavo_cli.errors import KuavoError


def train() -> None:
    """Not available yet in this version."""
    raise KuavoError("`kuavo train` is not implemented yet in this version")


def register(app: typer.Typer) -> None:
    app.command("train", epilog="Example: kuavo train --help")(train)
