"""`kuavo download` (not built yet)."""

from __future__ import annotations

import typer

from kuavo_cli.errors import KuavoError


def download() -> None:
    """Not available yet in this version."""
    raise KuavoError("`kuavo download` is not implemented yet in this version")


def register(app: typer.Typer) -> None:
    app.command("download", epilog="Example: kuavo download --help")(download)
