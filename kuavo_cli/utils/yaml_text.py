"""One value as YAML flow text: what a config file holds, and what draccus (lerobot-train's flag parser,
which reads every `--key=value` as YAML) reads back as the same value."""

from __future__ import annotations

import os
from typing import Any

import yaml


def yaml_value(value: Any) -> str:
    """None -> null, bools -> true/false, sequences -> [a, b], paths -> their text; a string YAML would
    read as something else (e.g. `no`, a boolean) is quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str) and yaml.safe_load(value) != value:
        return f'"{value}"'
    return str(value)
