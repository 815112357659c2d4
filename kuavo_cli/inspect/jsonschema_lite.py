"""A small JSON Schema (draft-07 subset) validator, enough for `schema.json` (no `jsonschema` dependency).

Supported: type (incl. lists, integer vs number), const, enum, properties, required, additionalProperties
(bool or schema), items, minimum, oneOf, anyOf and local `$ref`s (#/definitions/...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


def _resolve(ref: str, root: dict) -> dict:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported, got {ref}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def errors(value: Any, schema: dict, root: dict | None = None, where: str = "$") -> list[str]:
    """Every violation as 'path: problem'; an empty list means the value is valid."""
    root = root if root is not None else schema
    if "$ref" in schema:
        return errors(value, _resolve(schema["$ref"], root), root, where)
    out: list[str] = []
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_TYPES[k](value) for k in kinds):
            return [f"{where}: expected {'/'.join(kinds)}, got {type(value).__name__}"]
    if "const" in schema and value != schema["const"]:
        out.append(f"{where}: expected {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: {value!r} not in {schema['enum']}")
    if "minimum" in schema and _TYPES["number"](value) and value < schema["minimum"]:
        out.append(f"{where}: {value} < minimum {schema['minimum']}")
    for key in ("oneOf", "anyOf"):
        if key in schema:
            passing = [s for s in schema[key] if not errors(value, s, root, where)]
            if (key == "oneOf" and len(passing) != 1) or (key == "anyOf" and not passing):
                detail = [e for s in schema[key] for e in errors(value, s, root, where)][:3]
                out.append(f"{where}: {len(passing)} of the {key} branches match ({'; '.join(detail)})")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                out.append(f"{where}: missing required {name!r}")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in props:
                out += errors(item, props[name], root, f"{where}.{name}")
            elif extra is False:
                out.append(f"{where}: unexpected property {name!r}")
            elif isinstance(extra, dict):
                out += errors(item, extra, root, f"{where}.{name}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            out += errors(item, schema["items"], root, f"{where}[{i}]")
    return out


def validate_file(value: Any, schema_path: Path) -> list[str]:
    return errors(value, json.loads(Path(schema_path).read_text()))
