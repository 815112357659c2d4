"""Library entry points for training (used by `kuavo train`, `kuavo demo` and Python users)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from kuavo_cli.config.loader import load_train_config, merge_sources, read_yaml, validate
from kuavo_cli.config.models import TrainConfig
from kuavo_cli.train.run_dir import CONFIG_FILE

# Settings that may change on resume without breaking the continued run.
# Not `gpus`, `batch_size` or `gradient_accumulation_steps`: the saved data position and per-process random
# state only hold for the topology that wrote the checkpoint (refused in preflight.check_resume_topology).
RESUME_SAFE_FIELDS = {"steps", "log_freq", "eval_freq", "save_freq", "num_workers", "resume", "wandb"}
TOPOLOGY_FIELDS = {"gpus", "batch_size", "gradient_accumulation_steps"}


def resolve_config(
    config: Path | None,
    overrides: list[str] | None,
    flags: dict[str, Any],
    resume: Path | None,
    console: Console,
) -> TrainConfig:
    """The config to train with; on resume the run's saved config is the base and changes are reported."""
    if resume is None:
        if config is None:
            from kuavo_cli.errors import UsageError

            raise UsageError(
                "no config given", "kuavo train CONFIG.yaml (create one with `kuavo config-init`)"
            )
        return load_train_config(config, overrides, flags)
    from kuavo_cli.train.checkpointing import find_resume_checkpoint, run_dir_of

    step_dir = find_resume_checkpoint(resume)
    run = run_dir_of(step_dir)
    saved = read_yaml(run / CONFIG_FILE)
    base = read_yaml(config) if config is not None else saved
    merged = merge_sources(base, overrides, {**flags, "resume": None})
    merged["resume"] = str(resume)
    merged["output_dir"] = str(run)
    cfg = validate(merged, source=str(config or run / CONFIG_FILE))
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
    from kuavo_cli.train.launch import inside_launcher

    if not inside_launcher():  # before N processes start; inside a launch the Trainer checks the real count
        from kuavo_cli.train.preflight import check_resume_topology

        check_resume_topology(step_dir, cfg.gpus, cfg.batch_size, cfg.gradient_accumulation_steps)
    return cfg


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
    """Train in this process (1 process, or one rank of an accelerate launch)."""
    from kuavo_cli.train.trainer import Trainer

    cfg = config if isinstance(config, TrainConfig) else validate(dict(config))
    trainer = Trainer(cfg, console=console)
    trainer.setup(loss_key="loss", resume_from=resume_from)
    return trainer.train()


def dump_yaml(cfg: TrainConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
