"""The `policy:` section: a type plus pass-through fields validated against lerobot's own policy config."""

from __future__ import annotations

import dataclasses
import difflib
import functools
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator

from kuavo_cli.utils.logs import quiet_logs

# Fields lerobot fills from the dataset (or that only make sense for hub uploads); users may not set them.
_MANAGED_FIELDS = {"input_features", "output_features"}


@functools.cache
def _registry() -> dict[str, type]:
    # Importing lerobot.policies registers every policy config class with draccus' ChoiceRegistry.
    with quiet_logs():
        import lerobot.policies  # noqa: F401
        from lerobot.configs.policies import PreTrainedConfig

        from kuavo_cli.policies import register

        register()  # kuavo's own types (kit_diffusion)

    return dict(PreTrainedConfig.get_known_choices())


def known_policy_types() -> list[str]:
    return sorted(_registry())


def policy_config_class(policy_type: str) -> type:
    registry = _registry()
    if policy_type not in registry:
        near = difflib.get_close_matches(policy_type, registry, n=1)
        hint = f"did you mean '{near[0]}'? " if near else ""
        raise ValueError(f"unknown policy type '{policy_type}'; {hint}known: {', '.join(sorted(registry))}")
    return registry[policy_type]


def policy_field_names(policy_type: str) -> list[str]:
    return [f.name for f in dataclasses.fields(policy_config_class(policy_type)) if f.init]


class PolicySection(BaseModel):
    """`type` (alias `name`) selects a lerobot policy; every other key is a field of its lerobot config."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: str = Field(
        "act",
        validation_alias=AliasChoices("type", "name"),
        description="lerobot policy type: act, diffusion, vqbet, pi05, smolvla, pi0, ..., or kit_diffusion "
        "(kuavo's: the competition kit's Diffusion network, see docs/export.md)",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_lerobot_instance(cls, data: Any) -> Any:
        # Python users (seed README) pass e.g. ACTConfig(...) directly.
        if dataclasses.is_dataclass(data) and not isinstance(data, type) and hasattr(data, "type"):
            defaults = type(data)()
            values: dict[str, Any] = {"type": data.type}
            for f in dataclasses.fields(data):
                if not f.init or f.name in _MANAGED_FIELDS:
                    continue
                value = getattr(data, f.name)
                if value != getattr(defaults, f.name):
                    values[f.name] = value
            return values
        return data

    @model_validator(mode="after")
    def _validate_against_lerobot(self) -> PolicySection:
        config_cls = policy_config_class(self.type)
        allowed = set(policy_field_names(self.type)) - _MANAGED_FIELDS
        for key in self.overrides():
            if key not in allowed:
                near = difflib.get_close_matches(key, allowed, n=1)
                hint = f"; did you mean '{near[0]}'?" if near else ""
                raise ValueError(f"'{key}' is not a field of lerobot's {config_cls.__name__}{hint}")
        try:
            self.to_lerobot()  # runs lerobot's own __post_init__ checks (e.g. n_action_steps <= chunk_size)
        except ValidationError as err:
            first = err.errors(include_url=False)[0]
            field = ".".join(str(p) for p in first["loc"])
            msg = str(first["msg"]).removeprefix("Value error, ")
            got = first.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            raise ValueError(f"{field + ': ' if field else ''}{msg}{shown}") from None
        return self

    def overrides(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def to_lerobot(self, **extra: Any) -> Any:
        """The lerobot `PreTrainedConfig` for this section (values coerced by lerobot's type hints).

        With `pretrained_path`, the base is that model's own config.json and this section's fields override
        it, as lerobot-train does for `--policy.path` plus `--policy.*` overrides; otherwise the base is the
        class defaults."""
        from pydantic import TypeAdapter

        config_cls = policy_config_class(self.type)
        values = {"push_to_hub": False, **self.pretrained_values(), **self.overrides(), **extra}
        with quiet_logs():
            return TypeAdapter(config_cls).validate_python(values)

    def pretrained_values(self) -> dict[str, Any]:
        """The fields of `pretrained_path`'s config.json: a local folder, or a hub model already in the HF
        cache (not downloaded here: training fetches it). {} without one."""
        path = self.overrides().get("pretrained_path")
        config_dir = _pretrained_config_dir(str(path)) if path else None
        if config_dir is None:
            return {}
        from lerobot.configs.policies import PreTrainedConfig

        with quiet_logs():
            pretrained = PreTrainedConfig.from_pretrained(config_dir)
        if pretrained.type != self.type:
            raise ValueError(
                f"type is '{self.type}' but pretrained_path {path} holds a '{pretrained.type}' policy "
                f"(set policy.type: {pretrained.type})"
            )
        skip = {"pretrained_path", "push_to_hub"}
        return {
            f.name: getattr(pretrained, f.name)
            for f in dataclasses.fields(pretrained)
            if f.init and f.name not in skip
        }

    def resolved(self) -> dict[str, Any]:
        """Every lerobot field with its effective value, for `kuavo config show`."""
        cfg = self.to_lerobot()
        out: dict[str, Any] = {"type": self.type}
        for f in dataclasses.fields(cfg):
            if f.init and f.name not in _MANAGED_FIELDS:
                out[f.name] = _plain(getattr(cfg, f.name))
        return out


def is_hub_model_id(path: str) -> bool:
    """`org/name` that is not a local path: a `pretrained_path` naming a model on the hub."""
    from pathlib import Path

    return path.count("/") == 1 and not Path(path).exists()


def _pretrained_config_dir(path: str) -> str | None:
    """The folder holding the config.json of a pretrained policy: `path` itself when it is a local folder
    with one, else the HF-cache folder of the hub model `path` if its config.json is cached."""
    from pathlib import Path

    if Path(path).is_dir():
        return path if (Path(path) / "config.json").is_file() else None
    if not is_hub_model_id(path):
        return None
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(path, "config.json")
    return str(Path(cached).parent) if isinstance(cached, str) else None


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "value") and type(value).__module__.startswith("lerobot"):
        return value.value  # enums such as NormalizationMode
    return value
