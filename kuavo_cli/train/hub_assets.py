"""Policies that start from hub assets (pi0/pi05 weights and tokenizer, smolvla's VLM) must find them
before any training work starts; offline, say exactly what to download and where to put it."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from kuavo_cli.config.models import TrainConfig
from kuavo_cli.errors import UsageError

# policy type -> (usual pretrained checkpoint, hub repos its model/processors always read, pip extra)
HUB_ASSETS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "pi05": ("lerobot/pi05_base", ("google/paligemma-3b-pt-224",), "pi"),
    "pi0": ("lerobot/pi0_base", ("google/paligemma-3b-pt-224",), "pi"),
    "pi0_fast": ("lerobot/pi0fast_base", ("google/paligemma-3b-pt-224",), "pi"),
    "smolvla": ("lerobot/smolvla_base", ("HuggingFaceTB/SmolVLM2-500M-Video-Instruct",), "smolvla"),
}


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def _cached(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


def check_policy_assets(cfg: TrainConfig) -> None:
    if cfg.policy.type not in HUB_ASSETS:
        return
    usual, always, extra = HUB_ASSETS[cfg.policy.type]
    pretrained = cfg.policy.overrides().get("pretrained_path")
    needed = list(always)
    if pretrained is not None and not Path(str(pretrained)).is_dir():
        needed.insert(0, str(pretrained))
    missing = [repo for repo in needed if not _cached(repo)] if _offline() else []
    if missing:
        first = missing[0]
        local = f"models/{first.split('/')[-1]}"
        raise UsageError(
            f"policy '{cfg.policy.type}' needs hub assets missing offline: {', '.join(missing)}",
            f"where the hub is reachable run `hf download {first}` for each (they land in the HF cache; copy "
            f"~/.cache/huggingface/hub here), or download {usual} with --local-dir {local} and set "
            f"policy.pretrained_path: {local}",
        )
    if importlib.util.find_spec("transformers") is None:
        raise UsageError(
            f"policy '{cfg.policy.type}' needs the transformers package",
            f"pip install 'lerobot[{extra}]==0.6.1'",
        )
