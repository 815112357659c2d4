"""`kuavo inspect` (not built yet)."""

from __future__ import annotations

import typer

from kuavo_cli.errors import KuavoError


def inspect() -> None:
    """Not available yet in this version."""
    raise KuavoError("`kuavo inspect` is not implemented yet in this version")


def register(app: typer.Typer) -> None:
    app.command("inspect", epilog="Example: kuavo inspect --help")(inspect)
