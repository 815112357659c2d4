"""Camera image sizes as people type them: WIDTHxHEIGHT (as ffmpeg writes it, e.g. 640x480, the Kuavo
cameras), returned as (height, width), the order of tensors and of `image_size` everywhere in kuavo."""

from __future__ import annotations

import re

from kuavo_cli.errors import UsageError

_WXH = re.compile(r"\s*(\d+)\s*[xX]\s*(\d+)\s*")


def parse_wxh(text: str) -> tuple[int, int]:
    """'640x480' -> (480, 640); even and >= 16, as the video encoders need. A ValueError says what is
    wrong: pydantic validators add the field to it, `parse_image_size` the flag."""
    m = _WXH.fullmatch(text)
    if not m:
        raise ValueError(f"{text!r} is not WIDTHxHEIGHT, e.g. 640x480 (the Kuavo cameras) or 64x48")
    width, height = int(m.group(1)), int(m.group(2))
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise ValueError(f"{text!r}: width and height must be even and >= 16 (the video encoder needs it)")
    return height, width


def parse_image_size(text: str, flag: str = "--size") -> tuple[int, int]:
    """`parse_wxh` for a command-line flag: a UsageError (exit 2) naming the flag."""
    try:
        return parse_wxh(text)
    except ValueError as err:
        raise UsageError(f"{flag} {err}") from None
