"""Normalisation stats and pre/post-processors, built the way `lerobot-train` 0.6.1 builds them.

Mirrors lerobot's `datasets/factory.py` (ImageNet stats for cameras) and `scripts/lerobot_train.py`
(processor kwargs for a fresh policy, a fine-tune of `pretrained_path`, and a resume), so a kuavo run and a
`lerobot-train` run on the same dataset save the same processor state.
"""

from __future__ import annotations

from typing import Any

from kuavo_cli.utils.logs import quiet_logs


def apply_imagenet_stats(meta: Any) -> list[str]:
    """In place, as lerobot's make_dataset: camera mean/std become ImageNet's (depth cameras keep theirs).
    Returns the camera keys changed."""
    import torch
    from lerobot.utils.constants import IMAGENET_STATS

    depth = set(getattr(meta, "depth_keys", []) or [])
    changed = []
    for key in meta.camera_keys:
        if key in depth or key not in meta.stats:
            continue
        for stats_type, stats in IMAGENET_STATS.items():
            meta.stats[key][stats_type] = torch.tensor(stats, dtype=torch.float32)
        changed.append(key)
    return changed


def make_processors(
    policy_cfg: Any, policy: Any, stats: Any, device: str, rename_map: dict[str, str], resuming: bool
) -> tuple[Any, Any]:
    """(preprocessor, postprocessor). On resume the checkpoint's saved processor state is authoritative;
    a fine-tune of `pretrained_path` loads its pipeline but normalises with this dataset's stats."""
    from lerobot.policies import make_pre_post_processors

    pretrained = policy_cfg.pretrained_path
    kwargs: dict[str, Any] = {}
    if not pretrained or not resuming:
        kwargs["dataset_stats"] = stats
    if pretrained is not None:
        config = policy.config
        pre: dict[str, Any] = {
            "device_processor": {"device": device},
            "normalizer_processor": {
                "features": {**config.input_features, **config.output_features},
                "norm_map": config.normalization_mapping,
            },
            "rename_observations_processor": {"rename_map": rename_map},
        }
        post: dict[str, Any] = {
            "unnormalizer_processor": {
                "features": config.output_features,
                "norm_map": config.normalization_mapping,
            }
        }
        if not resuming:
            pre["normalizer_processor"]["stats"] = stats
            post["unnormalizer_processor"]["stats"] = stats
        if getattr(policy_cfg, "use_relative_actions", False):
            pre["relative_actions_processor"] = {
                "enabled": True,
                "exclude_joints": getattr(policy_cfg, "relative_exclude_joints", []),
                "action_names": getattr(policy_cfg, "action_feature_names", None),
            }
            post["absolute_actions_processor"] = {"enabled": True}
        kwargs["preprocessor_overrides"] = pre
        kwargs["postprocessor_overrides"] = post
    with quiet_logs():
        return make_pre_post_processors(
            policy_cfg=policy_cfg,
            pretrained_path=str(pretrained) if pretrained is not None else None,
            pretrained_revision=getattr(policy_cfg, "pretrained_revision", None),
            **kwargs,
        )
