"""Small training configs and helpers shared by the training tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

TINY_ACT = {
    "type": "act",
    "chunk_size": 5,
    "n_action_steps": 5,
    "dim_model": 32,
    "dim_feedforward": 64,
    "n_heads": 2,
    "n_encoder_layers": 1,
    "n_decoder_layers": 1,
    "use_vae": False,
    "pretrained_backbone_weights": None,
    "device": "cpu",
}

TINY_DIFFUSION = {
    "type": "diffusion",
    "n_obs_steps": 2,
    "horizon": 8,
    "n_action_steps": 4,
    "drop_n_last_frames": 3,
    "down_dims": [32, 64],
    "kernel_size": 3,
    "n_groups": 4,
    "diffusion_step_embed_dim": 32,
    "spatial_softmax_num_keypoints": 8,
    "crop_shape": [40, 56],
    "pretrained_backbone_weights": None,
    "use_group_norm": True,
    "num_train_timesteps": 20,
    "num_inference_steps": 4,
    "device": "cpu",
}


def train_config(dataset: Path, out: Path, policy: dict | None = None, **top: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "dataset": {"repo_id": "kuavo/synthetic", "root": str(dataset)},
        "policy": dict(policy or TINY_ACT),
        "optimizer": {"name": "adamw", "lr": 1e-3, "weight_decay": 0.0},
        "steps": 10,
        "batch_size": 4,
        "num_workers": 0,
        "log_freq": 1,
        "eval_freq": 5,
        "save_freq": 5,
        "num_eval_batches": 2,
        "cpu": True,
        "output_dir": str(out),
        "seed": 7,
    }
    cfg.update(top)
    return cfg


def write_config(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def read_metrics(run: Path, split: str) -> dict[int, float]:
    out = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["split"] == split:
            out[rec["step"]] = rec["loss"]
    return out


def read_trace(folder: Path, rank: int) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / f"rank{rank}.jsonl").read_text().splitlines() if line]
