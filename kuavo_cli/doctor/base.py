"""The result of one doctor check, and the locations (HF home, accelerate config) several checks share."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

Status = Literal["ok", "warning", "error"]


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, how it went, what we saw, and the command that fixes it."""

    name: str
    status: Status
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def warning(name: str, detail: str, fix: str) -> Check:
    return Check(name, "warning", detail, fix)


def error(name: str, detail: str, fix: str) -> Check:
    return Check(name, "error", detail, fix)


# The same resolution as huggingface_hub and accelerate, read from the environment *now* (their module
# constants are frozen at import time, and doctor must see the environment it is run in).
def hf_home() -> Path:
    default = os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache")), "huggingface"
    )
    return Path(os.path.expandvars(os.path.expanduser(os.environ.get("HF_HOME", default))))


def hf_token_path() -> Path:
    return Path(
        os.path.expandvars(os.path.expanduser(os.environ.get("HF_TOKEN_PATH", str(hf_home() / "token"))))
    )


def accelerate_config_path() -> tuple[Path, str]:
    """The accelerate config `accelerate launch` would read, and where that choice came from."""
    explicit = os.environ.get("ACCELERATE_CONFIG_FILE")
    if explicit:
        return Path(explicit).expanduser(), "ACCELERATE_CONFIG_FILE"
    folder = hf_home() / "accelerate"
    yaml_file, json_file = folder / "default_config.yaml", folder / "default_config.json"
    # accelerate keeps reading an old JSON default when it is the only one present.
    if json_file.is_file() and not yaml_file.is_file():
        return json_file, "HF_HOME" if "HF_HOME" in os.environ else "default location"
    return yaml_file, "HF_HOME" if "HF_HOME" in os.environ else "default location"


def short_error(err: BaseException) -> str:
    """The first meaningful line of an exception (library errors can span pages)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    first = lines[0] if lines else type(err).__name__
    return first if len(first) <= 160 else first[:157] + "..."
