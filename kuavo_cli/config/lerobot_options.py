"""lerobot-train options kuavo passes through (`peft`, `sample_weighting`, `rename_map`, ...), validated with
lerobot's own config classes so a typo fails at `kuavo config validate`, not hours into a run."""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

from kuavo_cli.utils.logs import quiet_logs


def _dataclass_from_mapping(cls: type, values: dict[str, Any], section: str) -> Any:
    """Build lerobot's dataclass `cls` from a YAML mapping: unknown keys and wrong types become one line."""
    from pydantic import TypeAdapter, ValidationError

    names = [f.name for f in dataclasses.fields(cls) if f.init]
    for key in values:
        if key not in names:
            near = difflib.get_close_matches(key, names, n=1)
            hint = f"did you mean '{near[0]}'?" if near else f"allowed: {', '.join(names)}"
            raise ValueError(f"{section}.{key} is not a field of lerobot's {cls.__name__}; {hint}")
    try:
        return TypeAdapter(cls).validate_python(values)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{section}.{field}: {first['msg']} (got {first.get('input')!r})") from None


def peft_config(values: dict[str, Any]) -> Any:
    """lerobot's `PeftConfig` (the `--peft.*` options of lerobot-train); the method must be a PEFT type."""
    with quiet_logs():
        from lerobot.configs.default import PeftConfig

    cfg = _dataclass_from_mapping(PeftConfig, values, "peft")
    try:
        from peft import PeftType
    except ImportError as err:
        raise ValueError("peft needs the peft package: pip install 'lerobot[peft]==0.6.1'") from err
    known = [t.name for t in PeftType]
    if cfg.method_type.upper() not in known:
        raise ValueError(
            f"peft.method_type {cfg.method_type!r} is not a PEFT method; known: {', '.join(known)}"
        )
    return cfg


def sample_weighting_config(values: dict[str, Any]) -> Any:
    """lerobot's `SampleWeightingConfig`; the type must be one lerobot's `make_sample_weighter` builds."""
    from lerobot.utils.sample_weighting import SampleWeightingConfig

    cfg = _dataclass_from_mapping(SampleWeightingConfig, values, "sample_weighting")
    if cfg.type not in ("rabc", "uniform"):
        raise ValueError(f"sample_weighting.type {cfg.type!r}: lerobot supports 'rabc' and 'uniform'")
    return cfg


def check_pass_through(cfg: Any) -> None:
    """The cross-field rules of lerobot's `TrainPipelineConfig.validate()` for the options we pass on."""
    pretrained = cfg.policy.overrides().get("pretrained_path")
    if cfg.rename_map and not pretrained:
        raise ValueError(
            "rename_map requires policy.pretrained_path: a fresh policy takes its feature names from this "
            "dataset, so there is nothing to rename (lerobot's rule)"
        )
    if cfg.peft is not None and not pretrained:
        raise ValueError(
            "peft (LoRA) fine-tunes an existing model: set policy.pretrained_path to a trained checkpoint's "
            "pretrained_model folder (lerobot refuses PEFT from scratch)"
        )
    if cfg.save_checkpoint_to_hub and not cfg.policy.overrides().get("repo_id"):
        raise ValueError("save_checkpoint_to_hub requires policy.repo_id (the hub repo to push to)")
