"""Byte counts for people, read and written (binary units: K/M/G/T = 1024^n, as `du -h` and the hub's web
page count): `human_bytes` for reports, `parse_bytes` for what they type (`--max-disk 50GB`)."""

from __future__ import annotations

import re

from kuavo_cli.errors import UsageError

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_TYPED = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*")


def human_bytes(n: float) -> str:
    for unit in _UNITS:
        if abs(n) < 1024 or unit == _UNITS[-1]:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def parse_bytes(text: str, flag: str = "--max-disk") -> int:
    """'50GB' / '500MiB' / '60G' / '2T' / '123456' -> bytes (> 0); a UsageError naming `flag` otherwise."""
    m = _TYPED.fullmatch(text.lower())
    if not m:
        raise UsageError(f"{flag} {text!r} is not a size", f"write it like {flag} 50GB, 500M or 2TiB")
    value = int(float(m.group(1)) * 1024 ** " kmgt".index(m.group(2) or " "))
    if value <= 0:
        raise UsageError(f"{flag} {text!r} must be positive", f"e.g. {flag} 50GB")
    return value
