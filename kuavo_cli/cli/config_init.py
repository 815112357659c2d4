"""`kuavo config-init` (not built yet)."""

from __future__ import annotations

import typer

from kuavo_cli.errors import KuavoError


def config_init() -> None:
    """Not available yet in this version."""
    raise KuavoError("`kuavo config-init` is not implemented yet in this version")


def register(app: typer.Typer) -> None:
    app.command("config-init", epilog="Example: kuavo config-init --help")(config_init)
