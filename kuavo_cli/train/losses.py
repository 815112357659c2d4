"""The training loss: whatever shape a lerobot policy returns it in, or lerobot-train's per-sample weighted
loss when `sample_weighting` is set."""

from __future__ import annotations

import inspect
from typing import Any

import torch

from kuavo_cli.config.models import TrainConfig
from kuavo_cli.errors import KuavoError, UsageError


def extract_loss(output: Any, loss_key: str) -> tuple[torch.Tensor, dict[str, Any]]:
    """lerobot policies return a tensor, (loss, dict), (loss, None) or a dict; take the loss from any."""
    if isinstance(output, torch.Tensor):
        return output, {}
    if isinstance(output, dict):
        return output[loss_key], output
    if isinstance(output, tuple | list) and output:
        first, rest = output[0], output[1] if len(output) > 1 else None
        if isinstance(first, dict):
            return first[loss_key], first
        return first, rest if isinstance(rest, dict) else {}
    raise KuavoError(f"policy forward returned {type(output).__name__}; expected a loss tensor")


def weighted_loss(policy: Any, batch: dict[str, Any], weighter: Any) -> torch.Tensor:
    """lerobot-train's update_policy: per-sample losses scaled by the weighter, over the weight sum."""
    weights, _ = weighter.compute_batch_weights(batch)
    per_sample, _ = policy(batch, reduction="none")
    return (per_sample * weights).sum() / (weights.sum() + 1e-6)


def check_sample_weighting(cfg: TrainConfig, policy: Any) -> None:
    """lerobot weights per-sample losses via forward(batch, reduction="none"); refuse before training."""
    if cfg.sample_weighting is None:
        return
    if "reduction" not in inspect.signature(policy.forward).parameters:
        raise UsageError(
            f"sample_weighting needs per-sample losses, but the {policy.config.type} policy's forward has no "
            "`reduction` argument",
            "use a policy that supports it (pi0, pi05, smolvla, ...) or remove sample_weighting",
        )
