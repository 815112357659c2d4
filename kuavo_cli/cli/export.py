"""`kuavo export` (not built yet)."""

from __future__ import annotations

import typer

from kuavo_cli.errors import KuavoError


def export() -> None:
    """Not available yet in this version."""
    raise KuavoError("`kuavo export` is not implemented yet in this version")


def register(app: typer.Typer) -> None:
    app.command("export", epilog="Example: kuavo export --help")(export)
