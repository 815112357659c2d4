"""Where output goes: results on stdout (or JSON), logs and progress on stderr; NO_COLOR respected."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console


def _no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


def stdout_console() -> Console:
    return Console(no_color=_no_color(), soft_wrap=True)


def stderr_console() -> Console:
    return Console(stderr=True, no_color=_no_color(), soft_wrap=True)


def print_json(data: Any) -> None:
    """Machine-readable result on stdout, one document, no colour codes."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, sort_keys=False) + "\n")
    sys.stdout.flush()


def emit(result: Any, json_out: bool, render: Callable[[Any, Console], None]) -> None:
    """A command's result: with --json the result as JSON, else `render(result, console)`; both on stdout."""
    if json_out:
        print_json(result)
    else:
        render(result, stdout_console())
