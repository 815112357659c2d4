"""The end-to-end demo in the stand-in world: record expert demos -> train -> eval (offline + closed loop) -> export.

Each step is a library call, the same the matching command makes. The closed-loop step scores the trained
policy and the same policy before training (its step-0 weights) on the stand-in task, so the demo shows
success before vs after training, not only a falling loss.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console

from kuavo_cli.errors import UsageError

DEMO_EPISODES = 12  # expert demonstrations, seeds 1000.. (the closed-loop eval uses seeds 0..)
DEMO_IMAGE_SIZE = (32, 32)  # (H, W): small enough for a CPU run of a few minutes
DEMO_REPO_ID = "kuavo/standin"
DEMO_SIM_EPISODES = 5
DEMO_RECORD_SEED = 1000


def demo_train_overrides(data_root: Path, run_dir: Path, steps: int) -> dict:
    """A small ACT that trains in a few minutes on 2 CPU cores, offline."""
    return {
        "dataset": {
            "repo_id": DEMO_REPO_ID,
            "root": str(data_root),
            "cache": True,
            "cache_dir": str(run_dir.parent / "frame-cache"),
        },  # fmt: skip
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
        # Validate and save once, at the end: extra validations draw from the RNG and change the batches.
        "eval_freq": steps,
        "save_freq": steps,
        "num_eval_batches": 4,
        "cpu": True,
        "seed": 2,  # a tiny ACT is seed-sensitive; this one learns the task in 300 CPU steps (docs/demo.md)
        "output_dir": str(run_dir),
        "wandb": {"enable": False},
    }


def save_untrained(overrides: dict, run_dir: Path, console: Console) -> Path:
    """The policy as training starts (same config, seed and normalisation stats), saved as a checkpoint."""
    from kuavo_cli.config.loader import validate
    from kuavo_cli.train.trainer import Trainer

    cfg = validate({**overrides, "output_dir": str(run_dir), "steps": 1, "save_freq": 1, "eval_freq": 1})
    trainer = Trainer(cfg, console=console)
    trainer.setup()
    path = trainer.save()
    if path is None:
        raise UsageError(f"could not save the untrained checkpoint in {run_dir}")
    return Path(path)


def run_sim_before_after(untrained: Path, run_dir: Path, out: Path, console: Console) -> dict:
    from kuavo_cli.sim.api import evaluate_sim
    from kuavo_cli.sim.report import print_summary

    report = evaluate_sim(
        [str(untrained), str(run_dir)], scene="standin", episodes=DEMO_SIM_EPISODES, seed=0, out=out,
        device="cpu", console=console,
    )  # fmt: skip
    print_summary(console, report)
    before, after = (r["summary"] for r in report["results"])
    return {
        "before": {k: before[k] for k in ("success_rate", "mean_score")},
        "after": {k: after[k] for k in ("success_rate", "mean_score")},
        "report": str(out / "report.json"),
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

    console.rule("1/4 expert demonstrations in the stand-in world")
    from kuavo_cli.sim.record import record_expert_dataset

    results["data"] = record_expert_dataset(
        data_root, DEMO_EPISODES, seed=DEMO_RECORD_SEED, image_size=DEMO_IMAGE_SIZE, repo_id=DEMO_REPO_ID
    )
    console.print(
        f"dataset: {data_root} ({DEMO_EPISODES} episodes, expert score {results['data']['expert_mean_score']:.1f})"
    )

    from kuavo_cli.evaluate.api import run_demo_eval
    from kuavo_cli.export.api import run_demo_export
    from kuavo_cli.train.api import run_training

    overrides = demo_train_overrides(data_root, run_dir, steps)
    console.rule("2/4 train")
    untrained = save_untrained(overrides, out / "untrained", console)
    results["train"] = run_training(overrides, console=console)

    console.rule("3/4 eval")
    results["eval"] = run_demo_eval(run_dir, data_root, out / "eval", console=console)
    console.print("closed loop: the policy before and after training, on the stand-in task")
    results["sim"] = run_sim_before_after(untrained, run_dir, out / "eval-sim", console)

    console.rule("4/4 export")
    results["export"] = run_demo_export(run_dir, data_root, out / "export", console=console)
    console.rule("done")
    b, a = results["sim"]["before"], results["sim"]["after"]
    console.print(f"closed-loop success before {b['success_rate']:.0%} (score {b['mean_score']:.1f}) -> "
                  f"after {a['success_rate']:.0%} (score {a['mean_score']:.1f})")  # fmt: skip
    console.print(f"Demo finished: data, train, eval, export -> {out}")
    return results
