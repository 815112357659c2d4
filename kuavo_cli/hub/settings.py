"""Hub settings read from the environment when a command runs (huggingface_hub reads most of them at import).

Reading them per call keeps `HF_ENDPOINT` / `HF_HUB_CACHE` / `HF_HUB_OFFLINE` effective even when the library
was imported earlier in the same process (tests, notebooks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_REPO = "LejuRobotics/kuavo_data_challenge_icra"
REPO_TYPES = ("dataset", "model")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


@dataclass(frozen=True)
class HubSettings:
    endpoint: str
    cache_dir: Path  # huggingface_hub's cache (HF_HUB_CACHE)
    lerobot_cache_dir: Path  # lerobot's revision-safe snapshot cache (HF_LEROBOT_HOME/hub)
    offline: bool


def hub_settings() -> HubSettings:
    from huggingface_hub import constants

    endpoint = (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
    if os.environ.get("HF_HUB_CACHE"):
        cache = Path(os.environ["HF_HUB_CACHE"])
    elif os.environ.get("HF_HOME"):
        cache = Path(os.environ["HF_HOME"]) / "hub"
    else:
        cache = Path(constants.HF_HUB_CACHE)
    if os.environ.get("HF_LEROBOT_HOME"):
        lerobot_home = Path(os.environ["HF_LEROBOT_HOME"])
    elif os.environ.get("HF_HOME"):
        lerobot_home = Path(os.environ["HF_HOME"]) / "lerobot"
    else:
        lerobot_home = Path(constants.HF_HOME) / "lerobot"
    raw_offline = os.environ.get("HF_HUB_OFFLINE")
    offline = _truthy(raw_offline) if raw_offline is not None else constants.is_offline_mode()
    return HubSettings(endpoint, cache.expanduser(), (lerobot_home / "hub").expanduser(), offline)


def make_api(settings: HubSettings):
    from huggingface_hub import HfApi

    return HfApi(endpoint=settings.endpoint)
