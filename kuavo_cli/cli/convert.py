"""`kuavo convert` (not built yet)."""

from __future__ import annotations

import typer

from kuavo_cli.errors import KuavoError


def convert() -> None:
    """Not available yet in this version."""
    raise KuavoError("`kuavo convert` is not implemented yet in this version")


def register(app: typer.Typer) -> None:
    app.command("convert", epilog="Example: kuavo convert --help")(convert)
