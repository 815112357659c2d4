"""Checks that refuse a run before it starts, instead of training something else or failing hours in:
unsupported accelerate back-ends, SyncBatchNorm where torch cannot run it, and a resume whose data position
does not hold for the new process count or batch size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from kuavo_cli.checkpoints import KUAVO_STATE_FILE, TRAINING_STATE_DIR, TRAINING_STEP_FILE
from kuavo_cli.config.models import TrainConfig
from kuavo_cli.errors import UsageError

# kuavo saves by unwrapping the model on the main process; these back-ends shard parameters or optimizer
# state across ranks, so that checkpoint would be incomplete (lerobot gathers FSDP state; kuavo does not).
UNSUPPORTED_BACKENDS = ("FSDP", "DEEPSPEED", "MEGATRON_LM", "XLA")


def _backend_error(backend: str, where: str) -> UsageError:
    return UsageError(
        f"{where}: accelerate distributed_type {backend} is not supported by kuavo train (its checkpoints are "
        "written from one unwrapped model, which would miss sharded parameters and optimizer state)",
        "use a MULTI_GPU (DDP) accelerate config or none: kuavo train --gpus N; for FSDP run lerobot-train",
    )


def check_accelerate_config(path: Path | None) -> None:
    """Before `accelerate launch`: refuse FSDP / DeepSpeed / Megatron config files."""
    if path is None or not Path(path).exists():
        return
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise UsageError(f"accelerate config {path} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise UsageError(f"accelerate config {path}: the top level must be a mapping")
    backend = str(data.get("distributed_type", "")).upper()
    if backend in UNSUPPORTED_BACKENDS:
        raise _backend_error(backend, str(path))


def check_before_launch(cfg: TrainConfig, accelerate_config: Path | None) -> None:
    """What can be refused from the config alone, before N processes start."""
    check_accelerate_config(accelerate_config)
    if cfg.sync_batch_norms and cfg.gpus > 1 and cfg.cpu:
        raise _sync_bn_cpu_error()


def _sync_bn_cpu_error() -> UsageError:
    return UsageError(
        "sync_batch_norms: torch's SyncBatchNorm only runs on CUDA (NCCL); these processes run on the CPU (gloo)",
        "set sync_batch_norms: false for CPU runs",
    )


def check_accelerator(cfg: TrainConfig, accelerator: Any) -> None:
    """Inside each process, once accelerate has chosen the back-end and device."""
    backend = accelerator.distributed_type.name if hasattr(accelerator.distributed_type, "name") else ""
    if backend in UNSUPPORTED_BACKENDS:
        raise _backend_error(backend, "this launch")
    if cfg.sync_batch_norms and accelerator.num_processes > 1 and accelerator.device.type != "cuda":
        raise _sync_bn_cpu_error()


def apply_sync_batch_norms(cfg: TrainConfig, policy: Any, world: int) -> tuple[Any, str | None]:
    """Convert trainable BatchNorm layers to SyncBatchNorm; the returned note says what that did."""
    import torch

    if not cfg.sync_batch_norms:
        return policy, None
    if world == 1:
        return policy, "sync_batch_norms: one process, nothing to synchronise"
    trainable = [m for m in policy.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not trainable:
        return policy, (
            f"sync_batch_norms: the {policy.config.type} policy has no trainable BatchNorm layer (ACT's ResNet "
            "backbone uses frozen batch norm, Diffusion with use_group_norm uses GroupNorm), so it changes nothing"
        )
    converted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(policy)
    return (
        converted,
        f"sync_batch_norms: {len(trainable)} BatchNorm layers synchronised across {world} processes",
    )


def saved_topology(step_dir: Path) -> dict[str, int | None]:
    """What wrote the checkpoint: lerobot's training_step.json (num_processes, batch_size) + our state."""
    state_dir = step_dir / TRAINING_STATE_DIR
    step_file = json.loads((state_dir / TRAINING_STEP_FILE).read_text())
    kuavo_file = state_dir / KUAVO_STATE_FILE
    kuavo = json.loads(kuavo_file.read_text()) if kuavo_file.exists() else {}
    return {
        "num_processes": step_file.get("num_processes"),
        "batch_size": step_file.get("batch_size"),
        "gradient_accumulation_steps": kuavo.get("gradient_accumulation_steps"),
    }


def check_resume_topology(step_dir: Path, num_processes: int, batch_size: int, grad_accum: int) -> None:
    """The saved data position (and each rank's random state) only holds for the same process count, batch
    size and accumulation: refuse a change with one line saying what changed and how to proceed."""
    saved = saved_topology(step_dir)
    now = {
        "num_processes": num_processes,
        "batch_size": batch_size,
        "gradient_accumulation_steps": grad_accum,
    }
    flags = {
        "num_processes": "--gpus",
        "batch_size": "--batch-size",
        "gradient_accumulation_steps": "--grad-accum",
    }
    changed = [k for k, v in saved.items() if v is not None and v != now[k]]
    if not changed:
        return
    what = ", ".join(f"{k} {saved[k]} -> {now[k]}" for k in changed)
    same = " ".join(f"{flags[k]} {saved[k]}" for k in changed)
    raise UsageError(
        f"cannot resume {step_dir}: {what} since the checkpoint; its data position and per-process random "
        "state only continue exactly under the topology that wrote it",
        f"resume with {same}, or start a new run from its weights with "
        f"--set policy.pretrained_path={step_dir / 'pretrained_model'}",
    )
