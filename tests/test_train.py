"""`kuavo train` / `Trainer`: learning, lerobot-loadable checkpoints, accumulation, options that must act."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from kuavo_cli.config import BaseTrainConfig, TrainConfig
from kuavo_cli.train import Trainer
from tests.cli_helpers import run_cli
from tests.train_fixtures import TINY_DIFFUSION, read_metrics, train_config, write_config


def _train(cfg: dict) -> tuple[Trainer, dict]:
    trainer = Trainer(TrainConfig.model_validate(cfg))
    trainer.setup(loss_key="loss")
    return trainer, trainer.train()


def _load_and_act(pretrained: Path, dataset: Path) -> torch.Tensor:
    """Load with lerobot's own from_pretrained + processors and produce an action for a real frame."""
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.datasets import LeRobotDataset
    from lerobot.policies import get_policy_class, make_pre_post_processors

    cfg = PreTrainedConfig.from_pretrained(pretrained)
    policy = get_policy_class(cfg.type).from_pretrained(pretrained)
    policy.eval()
    pre, post = make_pre_post_processors(cfg, pretrained_path=str(pretrained))
    frame = LeRobotDataset("kuavo/synthetic", root=dataset)[3]
    obs = {k: v.unsqueeze(0) for k, v in frame.items() if k.startswith("observation.")}
    obs["task"] = [frame["task"]]
    with torch.no_grad():
        action = post(policy.select_action(pre(obs)))
    return action


@pytest.fixture(scope="module")
def small_image_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """32x32 cameras: ResNet gives one token per camera, so a tiny ACT finds the state signal quickly."""
    from kuavo_cli.data.synthetic import SyntheticSpec, make_synthetic_dataset

    root = tmp_path_factory.mktemp("small") / "kuavo32"
    return make_synthetic_dataset(root, SyntheticSpec(num_episodes=6, episode_length=40, image_size=(32, 32)))


@pytest.mark.slow
def test_act_learns_and_checkpoint_loads_in_lerobot(small_image_dataset: Path, tmp_path: Path):
    cfg = train_config(
        small_image_dataset, tmp_path / "run", steps=150, eval_freq=50, save_freq=150, log_freq=10
    )
    cfg["optimizer"]["lr"] = 2e-3
    _, result = _train(cfg)
    val = read_metrics(tmp_path / "run", "val")
    best = min(v for s, v in val.items() if s > 0)
    assert result["best_val_loss"] == pytest.approx(best)
    assert best < 0.92 * val[0], val  # learned something that holds on held-out episodes
    assert os.readlink(tmp_path / "run" / "checkpoints" / "best") == f"{min(val, key=val.get):06d}"
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    waits = [r["data_wait_fraction"] for r in records if r["split"] == "train"]
    assert waits and all(0 < w <= 1 for w in waits)  # the data-bound diagnosis is measured, not guessed
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert set(split["train_episodes"]).isdisjoint(split["val_episodes"]) and split["val_episodes"]
    action = _load_and_act(
        tmp_path / "run" / "checkpoints" / "last" / "pretrained_model", small_image_dataset
    )
    assert action.shape == (1, 16) and torch.isfinite(action).all()


@pytest.mark.slow
def test_diffusion_learns_and_loads(small_image_dataset: Path, tmp_path: Path):
    policy = {**TINY_DIFFUSION, "crop_shape": [28, 28]}
    cfg = train_config(
        small_image_dataset, tmp_path / "run", policy=policy, steps=60, eval_freq=20, save_freq=60
    )
    _train(cfg)
    val = read_metrics(tmp_path / "run", "val")
    assert min(v for s, v in val.items() if s > 0) < 0.95 * val[0], val
    action = _load_and_act(
        tmp_path / "run" / "checkpoints" / "last" / "pretrained_model", small_image_dataset
    )
    assert action.shape == (1, 16)


def test_gradient_accumulation_equals_big_batch(synthetic_dataset: Path, tmp_path: Path):
    """K micro-batches of B == one batch of K*B (same samples, SGD), and the optimizer steps `steps` times."""
    # chunk_size 1: no padded action steps, whose masked mean (sum / valid count) differs per micro-batch
    policy = {**train_config(synthetic_dataset, tmp_path)["policy"], "dropout": 0.0, "chunk_size": 1}
    policy["n_action_steps"] = 1
    common = {
        "policy": policy,
        "optimizer": {"name": "sgd", "lr": 0.05, "weight_decay": 0.0},
        "eval_freq": 100,
    }
    small, _ = _train(
        train_config(synthetic_dataset, tmp_path / "a", steps=3, batch_size=2, gradient_accumulation_steps=4,
                     save_freq=100, **common)
    )  # fmt: skip
    big, _ = _train(
        train_config(synthetic_dataset, tmp_path / "b", steps=3, batch_size=8, save_freq=100, **common)
    )
    a = dict(small.accelerator.unwrap_model(small.policy).named_parameters())
    b = dict(big.accelerator.unwrap_model(big.policy).named_parameters())
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    assert worst < 1e-5, worst
    moved = max(
        (a[k] - p0).abs().max().item() for k, p0 in _fresh_params(synthetic_dataset, tmp_path, common)
    )
    assert moved > 1e-4  # the comparison is meaningful: training changed the weights


def _fresh_params(dataset: Path, tmp_path: Path, common: dict):
    trainer = Trainer(TrainConfig.model_validate(train_config(dataset, tmp_path / "c", steps=1, **common)))
    trainer.setup()
    return list(trainer.accelerator.unwrap_model(trainer.policy).named_parameters())


def test_optimizer_steps_exactly_steps_times(synthetic_dataset: Path, tmp_path: Path):
    trainer = Trainer(
        TrainConfig.model_validate(
            train_config(synthetic_dataset, tmp_path / "r", steps=4, gradient_accumulation_steps=3, eval_freq=100,
                         save_freq=100)
        )
    )  # fmt: skip
    trainer.setup()
    calls = []
    trainer.optimizer.optimizer.register_step_post_hook(lambda *_: calls.append(1))
    trainer.train()
    assert len(calls) == 4


def test_save_freq_and_only_last_best(synthetic_dataset: Path, tmp_path: Path):
    _train(
        train_config(
            synthetic_dataset, tmp_path / "all", steps=6, save_freq=2, eval_freq=100, only_last_best=False
        )
    )
    steps = sorted(p.name for p in (tmp_path / "all" / "checkpoints").iterdir() if p.name.isdigit())
    assert steps == ["000002", "000004", "000006"]
    _train(
        train_config(
            synthetic_dataset, tmp_path / "lb", steps=6, save_freq=2, eval_freq=2, only_last_best=True
        )
    )
    ckpts = tmp_path / "lb" / "checkpoints"
    kept = {p.name for p in ckpts.iterdir() if p.name.isdigit()}
    assert kept == {os.readlink(ckpts / "last"), os.readlink(ckpts / "best")}
    best = json.loads((ckpts / "best.json").read_text())
    val = read_metrics(tmp_path / "lb", "val")
    assert best["step"] == min((s for s in val if s > 0), key=val.get)


def test_profiling_writes_trace(synthetic_dataset: Path, tmp_path: Path):
    _train(
        train_config(synthetic_dataset, tmp_path / "p", steps=4, eval_freq=100, save_freq=100, enable_profiling=True,
                     profiling_warmup_steps=1, profiling_active_steps=2)
    )  # fmt: skip
    traces = list((tmp_path / "p" / "profiling").glob("*.json"))
    assert traces and json.loads(traces[0].read_text())["traceEvents"]


def test_wandb_offline_run_written(synthetic_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    _train(
        train_config(synthetic_dataset, tmp_path / "w", steps=2, eval_freq=100, save_freq=100,
                     wandb={"enable": True, "project": "kuavo-test"})
    )  # fmt: skip
    runs = list((tmp_path / "w" / "wandb").glob("offline-run-*"))
    assert runs and any(runs[0].rglob("*.wandb"))


def test_seed_python_api(synthetic_dataset: Path, tmp_path: Path):
    """The seed README's Python API: TrainPipelineConfigLejuRobot(...), Trainer(cfg).setup(loss_key=...)."""
    from lejurobot.configs.train import TrainPipelineConfigLejuRobot as SeedCfg
    from lejurobot.train.trainer import Trainer as SeedTrainer

    assert SeedCfg is BaseTrainConfig and SeedTrainer is Trainer
    base = train_config(synthetic_dataset, tmp_path / "s", steps=2, eval_freq=100, save_freq=100)
    cfg = BaseTrainConfig.model_validate(base)
    trainer = Trainer(cfg, use_distributed=False)
    trainer.setup(loss_key="loss")
    assert trainer.distributed is False
    assert trainer.train()["steps"] == 2


def test_cli_train_json_and_errors(synthetic_dataset: Path, tmp_path: Path):
    cfg = write_config(
        tmp_path / "c.yaml", train_config(synthetic_dataset, tmp_path / "run", steps=2, eval_freq=2)
    )
    ok = run_cli("train", str(cfg), "--steps", "3", "--json")
    assert ok.exit_code == 0, ok.stderr
    assert json.loads(ok.stdout)["steps"] == 3
    again = run_cli("train", str(cfg))
    assert again.exit_code == 2 and "--resume" in again.stderr
    missing = write_config(
        tmp_path / "m.yaml", train_config(tmp_path / "nowhere", tmp_path / "run2", steps=2)
    )
    bad = run_cli("train", str(missing))
    assert bad.exit_code == 2 and "meta/info.json" in bad.stderr


@pytest.mark.parametrize("policy_type", ["pi05", "smolvla"])
def test_hub_policies_fail_clearly_offline(synthetic_dataset: Path, tmp_path: Path, policy_type: str):
    cfg = train_config(synthetic_dataset, tmp_path / "run", policy={"type": policy_type, "device": "cpu"})
    result = run_cli("train", str(write_config(tmp_path / "c.yaml", cfg)), env={"HF_HUB_OFFLINE": "1"})
    assert result.exit_code == 2, result.stderr
    assert "hf download" in result.stderr and "pretrained_path" in result.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_dataset_missing_feature_named(tmp_path: Path):
    """A dataset without cameras or env state cannot feed ACT: the error names what is missing."""
    from lerobot.datasets import LeRobotDataset

    ds = LeRobotDataset.create(
        "kuavo/state_only", fps=10, root=tmp_path / "ds", robot_type="kuavo4pro", use_videos=False,
        features={"observation.state": {"dtype": "float32", "shape": (16,), "names": None},
                  "action": {"dtype": "float32", "shape": (16,), "names": None}},
    )  # fmt: skip
    for _ep in range(2):
        for _ in range(12):
            ds.add_frame({"observation.state": torch.zeros(16), "action": torch.zeros(16), "task": "t"})
        ds.save_episode()
    ds.finalize()
    cfg = train_config(tmp_path / "ds", tmp_path / "run")
    cfg["dataset"]["repo_id"] = "kuavo/state_only"
    result = run_cli("train", str(write_config(tmp_path / "c.yaml", cfg)))
    assert result.exit_code == 2 and "image" in result.stderr and "observation.state" in result.stderr
