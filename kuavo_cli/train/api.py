"""Library entry points for training. `train()` is what `kuavo train` does, for Python users too:
validate, train in this process or relaunch N under accelerate, and attach advice to known failures."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from rich.console import Console

from kuavo_cli.checkpoints import CONFIG_FILE
from kuavo_cli.config.loader import merge_sources, read_yaml, validate
from kuavo_cli.config.models import TrainConfig
from kuavo_cli.errors import KuavoError
from kuavo_cli.train.launch import inside_launcher, launch_training

ConfigSource = Path | str | BaseModel | Mapping[str, Any]

# Settings that may change on resume without breaking the continued run.
# Not `gpus`, `batch_size` or `gradient_accumulation_steps`: the saved data position and per-process random
# state only hold for the topology that wrote the checkpoint (refused in preflight.check_resume_topology).
RESUME_SAFE_FIELDS = {"steps", "log_freq", "eval_freq", "save_freq", "num_workers", "resume", "wandb"}
TOPOLOGY_FIELDS = {"gpus", "batch_size", "gradient_accumulation_steps"}


def train(
    config: ConfigSource | None = None,
    overrides: Sequence[str] | None = None,
    flags: Mapping[str, Any] | None = None,
    resume: Path | None = None,
    console: Console | None = None,
    *,
    main_process_port: int | None = None,
    accelerate_config: Path | None = None,
    child_cli_args: Sequence[str] = (),
) -> dict[str, Any]:
    """Train as `kuavo train` does. `config`: a YAML path, a config object or a mapping; `overrides`:
    `--set key=value` strings; `flags`: the `kuavo train` options by name (grad_accum, lr, ... see
    config.loader.FLAG_PATHS; None = not given); `resume`: a run folder or one of its checkpoints.

    With gpus > 1 outside a launcher this relaunches itself once under `accelerate launch` (the launched
    `kuavo train` processes get `child_cli_args` too, e.g. `--json`) and returns {"launched": True, ...};
    otherwise it trains here (1 process, or one rank of a launch) and returns the run summary. Config
    problems and refusals raise `KuavoError`s; a runtime failure with a known cause (errors_advice) becomes
    a `KuavoError` carrying its fix, any other exception propagates unchanged."""
    console = console or Console(stderr=True)
    cfg = resolve_config(config, overrides, flags, resume, console)
    if cfg.gpus > 1 and not inside_launcher():
        code = launch_training(cfg, child_cli_args, main_process_port, accelerate_config)
        return {"launched": True, "exit_code": code, "num_processes": cfg.gpus}
    try:
        return run_training(cfg, console=console, resume_from=resume)
    except KuavoError:
        raise
    except Exception as err:
        from kuavo_cli.errors_advice import advice_for

        advice = advice_for(err, cfg.model_dump(mode="json"))
        if advice:
            raise KuavoError(f"{type(err).__name__}: {str(err).splitlines()[0]}", advice) from err
        raise


def resolve_config(
    config: ConfigSource | None,
    overrides: Sequence[str] | None,
    flags: Mapping[str, Any] | None,
    resume: Path | None,
    console: Console,
) -> TrainConfig:
    """The config to train with; on resume the run's saved config is the base and changes are reported."""
    flags = dict(flags or {})
    if resume is None:
        if config is None:
            from kuavo_cli.errors import UsageError

            raise UsageError(
                "no config given", "kuavo train CONFIG.yaml (create one with `kuavo config-init`)"
            )
        if (
            isinstance(config, TrainConfig)
            and not overrides
            and not any(v is not None for v in flags.values())
        ):
            return config
        return validate(merge_sources(_mapping_of(config), list(overrides or []), flags), _source_of(config))
    from kuavo_cli.checkpoints import resume_checkpoint, run_dir_of

    step_dir = resume_checkpoint(resume)
    run = run_dir_of(step_dir)
    saved = read_yaml(run / CONFIG_FILE)
    base = _mapping_of(config) if config is not None else saved
    merged = merge_sources(base, list(overrides or []), {**flags, "resume": None})
    merged["resume"] = str(resume)
    merged["output_dir"] = str(run)
    cfg = validate(merged, source=_source_of(config) or str(run / CONFIG_FILE))
    for key, (old, new) in _changed(saved, cfg.model_dump(mode="json")).items():
        if key in TOPOLOGY_FIELDS:
            continue  # checked below against what the checkpoint recorded: refused, not warned about
        if key.split(".")[0] in RESUME_SAFE_FIELDS | {"output_dir"}:
            console.print(f"[yellow]resume:[/yellow] {key}: {old!r} -> {new!r}")
        else:
            console.print(
                f"[bold yellow]warning:[/bold yellow] {key} changed since the checkpoint ({old!r} -> {new!r}); "
                "the continued run will not match an uninterrupted one"
            )
    if not inside_launcher():  # before N processes start; inside a launch the Trainer checks the real count
        from kuavo_cli.train.preflight import check_resume_topology

        check_resume_topology(step_dir, cfg.gpus, cfg.batch_size, cfg.gradient_accumulation_steps)
    return cfg


def _mapping_of(config: ConfigSource) -> dict[str, Any]:
    if isinstance(config, BaseModel):
        return config.model_dump(mode="json")
    if isinstance(config, Mapping):
        return dict(config)
    return read_yaml(Path(config))


def _source_of(config: ConfigSource | None) -> str | None:
    """The file named in config errors (none for objects and mappings)."""
    return str(config) if isinstance(config, str | os.PathLike) else None


def _changed(old: Any, new: Any, prefix: str = "") -> dict[str, tuple[Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: dict[str, tuple[Any, Any]] = {}
        for key in sorted(set(old) | set(new)):
            out.update(_changed(old.get(key), new.get(key), f"{prefix}{key}."))
        return out
    return {} if old == new else {prefix.rstrip("."): (old, new)}


def run_training(
    config: TrainConfig | dict[str, Any],
    console: Console | None = None,
    resume_from: Path | None = None,
) -> dict[str, Any]:
    """Train `config` in this process (1 process, or one rank of an accelerate launch): no `--set`/flags,
    no relaunch, no advice on failures (`train()` adds those)."""
    from kuavo_cli.train.trainer import Trainer

    cfg = config if isinstance(config, TrainConfig) else validate(dict(config))
    trainer = Trainer(cfg, console=console)
    trainer.setup(loss_key="loss", resume_from=resume_from)
    return trainer.train()
