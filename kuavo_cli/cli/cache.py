"""`kuavo cache` (not built yet)."""

from __future__ import annotations

import typer

from kuavo_cli.errors import KuavoError


def cache() -> None:
    """Not available yet in this version."""
    raise KuavoError("`kuavo cache` is not implemented yet in this version")


def register(app: typer.Typer) -> None:
    app.command("cache", epilog="Example: kuavo cache --help")(cache)
