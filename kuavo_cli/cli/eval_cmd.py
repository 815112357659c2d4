"""`kuavo eval` (not built yet)."""

from __future__ import annotations

import typer

from kuavo_cli.errors import KuavoError


def eval() -> None:
    """Not available yet in this version."""
    raise KuavoError("`kuavo eval` is not implemented yet in this version")


def register(app: typer.Typer) -> None:
    app.command("eval", epilog="Example: kuavo eval --help")(eval)
