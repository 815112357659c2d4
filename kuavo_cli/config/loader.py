"""Build a validated config: template defaults < YAML file < `--set a.b=v` overrides < explicit flags."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from kuavo_cli.config.models import TrainConfig
from kuavo_cli.errors import ConfigError, UsageError

# Explicit CLI flags -> the dotted config path they set.
FLAG_PATHS: dict[str, str] = {
    "policy": "policy.type",
    "steps": "steps",
    "batch_size": "batch_size",
    "grad_accum": "gradient_accumulation_steps",
    "gpus": "gpus",
    "lr": "optimizer.lr",
    "output_dir": "output_dir",
    "dataset": "dataset.root",
    "repo_id": "dataset.repo_id",
    "mixed_precision": "mixed_precision",
    "num_workers": "num_workers",
    "seed": "seed",
    "resume": "resume",
    "cpu": "cpu",
    "wandb_mode": "wandb.mode",
}


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from `path`, via safe_load; a clear UsageError for every way it can be wrong."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"config file {path} does not exist", "create one with `kuavo config-init`")
    if path.is_dir():
        raise UsageError(f"{path} is a folder, not a YAML config file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UsageError(f"{path}:{where}: invalid YAML: {problem}") from err
    except UnicodeDecodeError as err:
        raise UsageError(f"{path} is not a UTF-8 text file") from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UsageError(f"{path}: the top level must be a mapping (key: value), got {type(data).__name__}")
    return data


def parse_override(item: str) -> tuple[str, Any]:
    """`a.b=value` -> ("a.b", value parsed as a YAML scalar/list, so numbers and booleans keep their type)."""
    if "=" not in item:
        raise UsageError(f"--set {item!r} must look like key.path=value", "e.g. --set policy.chunk_size=20")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise UsageError(f"--set {item!r}: empty key", "e.g. --set optimizer.lr=3e-5")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key, value


_PART = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")


def _path_steps(dotted: str) -> list[str | int]:
    """`datasets[1].root` -> ["datasets", 1, "root"]: mapping keys, and list indices in brackets."""
    steps: list[str | int] = []
    for part in dotted.split("."):
        m = _PART.fullmatch(part)
        if not m:
            raise UsageError(
                f"--set {dotted!r}: {part!r} is not a key or key[index]",
                "e.g. --set datasets[1].root=data/t2",
            )
        steps.append(m.group(1))
        steps.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return steps


def _label(steps: list[str | int]) -> str:
    """["datasets", 1] -> "datasets[1]": how an error names the field a step is looked up in."""
    out = ""
    for step in steps:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out or "the config"


def _check_or_append_step(node: dict | list, step: str | int, dotted: str, where: str) -> None:
    """A key must meet a mapping; an index a list, and name an entry or the one after the last (which is
    appended here, as an empty mapping)."""
    if isinstance(step, int):
        if not isinstance(node, list):
            raise UsageError(
                f"--set {dotted!r}: {where} is not a list", "index only list fields, e.g. datasets[0]"
            )
        if step > len(node):
            n = len(node)
            raise UsageError(
                f"--set {dotted!r}: {where} has {n} {'entry' if n == 1 else 'entries'}, so [{step}] is past its end",
                f"use {where}[0] to {where}[{n}] ([{n}] adds an entry)",
            )
        if step == len(node):
            node.append({})
    elif isinstance(node, list):
        raise UsageError(f"--set {dotted!r}: {where} is a list", f"give an index, e.g. {where}[0].{step}")


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b`, or `a[1].b` in an entry of a list field (the index one past its end appends an entry).
    Missing mappings and lists on the way are made; a key that held a scalar is replaced by one."""
    steps = _path_steps(dotted)
    node: Any = data
    for i, step in enumerate(steps):
        _check_or_append_step(node, step, dotted, _label(steps[:i]))
        if i == len(steps) - 1:
            node[step] = value
        else:
            child = node[step] if isinstance(step, int) else node.get(step)
            if not isinstance(child, dict | list):
                child = [] if isinstance(steps[i + 1], int) else {}  # a missing list starts empty
                node[step] = child
            node = child


def merge_sources(
    base: dict[str, Any] | None = None,
    overrides: list[str] | None = None,
    flags: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Apply `--set` overrides then explicit flags (None = flag not given) on top of the YAML mapping."""
    data: dict[str, Any] = _deep_copy(base or {})
    for item in overrides or []:
        key, value = parse_override(item)
        set_path(data, key, value)
    for name, value in (flags or {}).items():
        if value is None:
            continue
        path = FLAG_PATHS.get(name)
        if path is None:
            raise KeyError(f"no config path for flag {name}")
        if name == "policy" and isinstance(data.get("policy"), dict) and "name" in data["policy"]:
            data["policy"].pop("name")  # the flag replaces the seed's `name:` alias
        set_path(data, path, value)
    return data


def validate(data: dict[str, Any], source: str | None = None, model: type[BaseModel] = TrainConfig):
    """Validate a merged mapping; every problem becomes one line naming field, value and what is allowed."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, data, model), source) from err


def load_train_config(
    path: Path | None = None,
    overrides: list[str] | None = None,
    flags: dict[str, Any] | None = None,
    base: dict[str, Any] | None = None,
) -> TrainConfig:
    """The one entry point commands use: read, merge, validate."""
    data = read_yaml(path) if path is not None else dict(base or {})
    merged = merge_sources(data, overrides, flags)
    return validate(merged, source=str(path) if path else None)


def dump_config(cfg: BaseModel, full_policy: bool = True) -> dict[str, Any]:
    """A plain mapping of the resolved config (YAML/JSON ready); the policy section expanded by lerobot."""
    out = cfg.model_dump(mode="json", by_alias=False, exclude_none=False)
    policy = getattr(cfg, "policy", None)
    if full_policy and policy is not None and hasattr(policy, "resolved"):
        out["policy"] = policy.resolved()
    return out


def format_validation_error(err: ValidationError, data: dict[str, Any], model: type[BaseModel]) -> list[str]:
    lines = []
    for e in err.errors(include_url=False):
        loc = [str(p) for p in e["loc"]]
        path = ".".join(loc) if loc else "(config)"
        kind = e["type"]
        if kind == "extra_forbidden":
            lines.append(f"{path}: unknown field{_suggest(model, loc)}")
        elif kind == "missing":
            lines.append(f"{path}: required field is missing")
        elif kind == "value_error" or kind == "assertion_error":
            msg = str(e["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
            prefix = f"{path}: " if loc else ""
            lines.append(f"{prefix}{msg}")
        else:
            got = e.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"{path}: {e['msg'][0].lower()}{e['msg'][1:]}{shown}")
    return lines


def _suggest(model: type[BaseModel], loc: list[str]) -> str:
    """'; did you mean X?' for a misspelt key, walking the model tree along `loc`."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", {})
        if part not in fields:
            return ""
        current = _model_of(fields[part].annotation)
        if current is None:
            return ""
    names = list(getattr(current, "model_fields", {}))
    near = difflib.get_close_matches(loc[-1], names, n=1)
    return f"; did you mean '{near[0]}'?" if near else f"; allowed: {', '.join(names)}"


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data
