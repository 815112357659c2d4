"""The end-to-end demo on synthetic data: generate -> train -> eval -> export, each step a library call."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

from rich.console import Console

from kuavo_cli.data.synthetic import SyntheticSpec, make_synthetic_dataset
from kuavo_cli.errors import UsageError

DEMO_SPEC = SyntheticSpec(num_episodes=8, episode_length=50, image_size=(48, 64), seed=0)


def demo_train_overrides(data_root: Path, run_dir: Path, steps: int) -> dict:
    """A tiny ACT that trains in a few minutes on 2 CPU cores, offline."""
    return {
        "dataset": {"repo_id": DEMO_SPEC.repo_id, "root": str(data_root)},
        "policy": {
            "type": "act",
            "chunk_size": 10,
            "n_action_steps": 10,
            "dim_model": 64,
            "dim_feedforward": 128,
            "n_heads": 4,
            "n_encoder_layers": 1,
            "n_decoder_layers": 1,
            "use_vae": False,
            "pretrained_backbone_weights": None,
            "device": "cpu",
        },
        "optimizer": {"name": "adamw", "lr": 1e-3, "weight_decay": 1e-4},
        "steps": steps,
        "batch_size": 16,
        "num_workers": 0,
        "log_freq": 25,
        "eval_freq": max(steps // 4, 1),
        "save_freq": max(steps // 2, 1),
        "num_eval_batches": 4,
        "cpu": True,
        "output_dir": str(run_dir),
        "wandb": {"enable": False},
    }


def run_demo(out: Path, steps: int = 300, force: bool = False, console: Console | None = None) -> dict:
    console = console or Console(stderr=True)
    out = Path(out)
    if out.exists():
        if not force:
            raise UsageError(f"{out} already exists", "pass --force to start the demo again from scratch")
        shutil.rmtree(out)
    data_root, run_dir = out / "data", out / "run"
    results: dict = {}

    console.rule("1/4 synthetic Kuavo dataset")
    make_synthetic_dataset(data_root, DEMO_SPEC)
    console.print(f"dataset: {data_root} ({DEMO_SPEC.num_episodes} episodes)")

    steps_done = ["data"]
    for name, module, func in (
        ("train", "kuavo_cli.train.api", "run_training"),
        ("eval", "kuavo_cli.evaluate.api", "run_demo_eval"),
        ("export", "kuavo_cli.export.api", "run_demo_export"),
    ):
        console.rule(f"{len(steps_done) + 1}/4 {name}")
        try:
            fn = getattr(importlib.import_module(module), func)
        except (ImportError, AttributeError):
            console.print(f"[yellow]`kuavo {name}` is not available in this version yet; skipped[/yellow]")
            continue
        if name == "train":
            results[name] = fn(demo_train_overrides(data_root, run_dir, steps), console=console)
        else:
            results[name] = fn(run_dir, data_root, out / name, console=console)
        steps_done.append(name)
    console.rule("done")
    console.print(f"Demo finished: {', '.join(steps_done)} -> {out}")
    return results
