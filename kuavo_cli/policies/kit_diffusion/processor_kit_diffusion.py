"""Processors of `kit_diffusion`: exactly lerobot's Diffusion pipelines (lerobot finds this function by name)."""

from __future__ import annotations

from typing import Any

from lerobot.policies.diffusion.processor_diffusion import make_diffusion_pre_post_processors

from kuavo_cli.policies.kit_diffusion.configuration_kit_diffusion import KitDiffusionConfig


def make_kit_diffusion_pre_post_processors(
    config: KitDiffusionConfig, dataset_stats: dict[str, dict[str, Any]] | None = None
) -> tuple[Any, Any]:
    return make_diffusion_pre_post_processors(config, dataset_stats)
