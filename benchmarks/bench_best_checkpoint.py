#!/usr/bin/env python
"""What a new best validation loss costs: the old full checkpoint per improvement vs kuavo's CPU snapshot
(at the improvement) + one model-only write (at the next save point). See docs/train.md#the-best-checkpoint.

Usage: .venv/bin/python benchmarks/bench_best_checkpoint.py [--dim 768] [--layers 4] [--out DIR] [--json]

Builds a large ACT (default ~77M parameters, ~310 MB of float32 weights) on a small synthetic dataset with
kuavo's real Trainer, takes one optimizer step so AdamW holds its moment buffers, then times the real save
functions (each write is fsynced, as in training).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def _size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--dim", type=int, default=768, help="ACT dim_model (dim_feedforward = 4x)")
    parser.add_argument("--layers", type=int, default=4, help="encoder and decoder layers each")
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: a temp folder)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args()

    from kuavo_cli import checkpoints as ckpt
    from kuavo_cli.config import TrainConfig
    from kuavo_cli.data.synthetic import SyntheticSpec, make_synthetic_dataset
    from kuavo_cli.train import Trainer
    from kuavo_cli.train.best import BestTracker

    work = args.out or Path(tempfile.mkdtemp(prefix="kuavo-bench-best-"))
    data = make_synthetic_dataset(
        work / "data", SyntheticSpec(num_episodes=2, episode_length=12, image_size=(32, 32))
    )
    policy = {
        "type": "act", "device": "cpu", "pretrained_backbone_weights": None, "chunk_size": 5,
        "n_action_steps": 5, "dim_model": args.dim, "dim_feedforward": 4 * args.dim, "n_heads": 8,
        "n_encoder_layers": args.layers, "n_decoder_layers": args.layers,
    }  # fmt: skip
    cfg = TrainConfig.model_validate({
        "dataset": {"repo_id": "kuavo/bench", "root": str(data)}, "policy": policy, "steps": 10,
        "batch_size": 2, "num_workers": 0, "cpu": True, "output_dir": str(work / "run"), "num_eval_batches": 1,
    })  # fmt: skip
    trainer = Trainer(cfg).setup()
    trainer._optimizer_step(trainer._batches())  # AdamW now holds exp_avg / exp_avg_sq for every weight
    trainer.step = 1
    model = trainer.accelerator.unwrap_model(trainer.policy)
    params = sum(p.numel() for p in model.parameters())

    t0 = time.perf_counter()
    full = ckpt.save_checkpoint_atomic(
        trainer.run.path, 1, cfg.steps, trainer.lerobot_cfg, model, trainer.optimizer.optimizer,
        trainer.scheduler.scheduler if trainer.scheduler else None, trainer.preprocessor,
        trainer.postprocessor, 1, cfg.batch_size, {},
    )  # fmt: skip
    full_s = time.perf_counter() - t0

    best = BestTracker()
    t0 = time.perf_counter()
    best.observe(1, 0.5, model, is_main=True)
    snapshot_s = time.perf_counter() - t0
    parts = {"model": model, "lerobot_cfg": trainer.lerobot_cfg}
    parts.update(preprocessor=trainer.preprocessor, postprocessor=trainer.postprocessor)
    target = full.parent / "000002"
    t0 = time.perf_counter()
    ckpt.save_model_only_atomic(target, best._pending[1], parts)
    model_only_s = time.perf_counter() - t0

    result = {
        "params_m": round(params / 1e6, 1),
        "full_checkpoint_mb": round(_size_mb(full), 1),
        "full_checkpoint_s": round(full_s, 2),
        "snapshot_to_cpu_s": round(snapshot_s, 3),
        "model_only_mb": round(_size_mb(target), 1),
        "model_only_s": round(model_only_s, 2),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"ACT {result['params_m']}M params")
    print(f"old: full checkpoint per new best     {result['full_checkpoint_mb']:8.1f} MB  {full_s:7.2f} s")
    print(f"new: CPU snapshot at the improvement  {'':8s}     {snapshot_s:7.3f} s")
    print(f"new: model-only write at a save point {result['model_only_mb']:8.1f} MB  {model_only_s:7.2f} s")


if __name__ == "__main__":
    main()
