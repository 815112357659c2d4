"""`kuavo bench` (not built yet)."""

from __future__ import annotations

import typer

from kuavo_cli.errors import KuavoError


def bench() -> None:
    """Not available yet in this version."""
    raise KuavoError("`kuavo bench` is not implemented yet in this version")


def register(app: typer.Typer) -> None:
    app.command("bench", epilog="Example: kuavo bench --help")(bench)
