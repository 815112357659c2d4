"""Checkpoints written by lerobot's own `lerobot-train` (a real subprocess) for eval/export/inspect tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TINY_ACT_ARGS = [
    "--policy.type=act",
    "--policy.chunk_size=5",
    "--policy.n_action_steps=5",
    "--policy.dim_model=32",
    "--policy.dim_feedforward=64",
    "--policy.n_heads=2",
    "--policy.n_encoder_layers=1",
    "--policy.n_decoder_layers=1",
    "--policy.use_vae=false",
    "--policy.pretrained_backbone_weights=null",
]
TINY_DIFFUSION_ARGS = [
    "--policy.type=diffusion",
    "--policy.n_obs_steps=2",
    "--policy.horizon=8",
    "--policy.n_action_steps=4",
    "--policy.drop_n_last_frames=3",
    "--policy.num_inference_steps=2",
    "--policy.down_dims=[16,32]",
    "--policy.kernel_size=3",
    "--policy.n_groups=4",
    "--policy.diffusion_step_embed_dim=16",
    "--policy.spatial_softmax_num_keypoints=4",
    "--policy.use_group_norm=true",
    "--policy.pretrained_backbone_weights=null",
]


def train_with_lerobot(
    dataset_root: Path,
    out_dir: Path,
    steps: int = 10,
    policy_args: list[str] | None = None,
    extra_args: list[str] | None = None,
    repo_id: str = "kuavo/synthetic",
) -> Path:
    """Run `lerobot-train` on CPU; returns the run folder (checkpoints/<step>/pretrained_model inside)."""
    lerobot_train = Path(sys.executable).with_name("lerobot-train")
    args = [
        str(lerobot_train),
        f"--dataset.repo_id={repo_id}",
        f"--dataset.root={dataset_root}",
        *(policy_args or TINY_ACT_ARGS),
        "--policy.push_to_hub=false",
        "--policy.device=cpu",
        f"--steps={steps}",
        "--batch_size=4",
        "--num_workers=0",
        f"--save_freq={steps}",
        f"--log_freq={max(steps // 2, 1)}",
        f"--output_dir={out_dir}",
        "--wandb.enable=false",
        *(extra_args or []),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SVT_LOG": "1"}
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"lerobot-train failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return out_dir
