"""`kuavo doctor` (not built yet)."""

from __future__ import annotations

import typer

from kuavo_cli.errors import KuavoError


def doctor() -> None:
    """Not available yet in this version."""
    raise KuavoError("`kuavo doctor` is not implemented yet in this version")


def register(app: typer.Typer) -> None:
    app.command("doctor", epilog="Example: kuavo doctor --help")(doctor)
