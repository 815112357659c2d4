"""Multi-task training: several datasets with weights, task texts kept, validation loss per dataset."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from kuavo_cli.config.models import TrainConfig
from tests.cli_helpers import run_cli
from tests.train_fixtures import train_config, write_config

TASK_A = "Sort the toys into the matching boxes"
TASK_B = "Weigh the parcel and place it on the scale"


@pytest.fixture(scope="module")
def two_tasks(tmp_path_factory) -> tuple[Path, Path]:
    from kuavo_cli.data.synthetic import SyntheticSpec, make_synthetic_dataset

    base = tmp_path_factory.mktemp("tasks")
    size = (32, 48)
    a = make_synthetic_dataset(base / "task1", SyntheticSpec(4, 30, size, seed=0, task=TASK_A))
    b = make_synthetic_dataset(base / "task2", SyntheticSpec(5, 24, size, seed=1, task=TASK_B))
    return a, b


def _multi_config(a: Path, b: Path, out: Path, **top) -> dict:
    cfg = train_config(a, out, **top)
    del cfg["dataset"]
    cfg["datasets"] = [
        {"root": str(a), "repo_id": "kuavo/task1", "weight": 3.0},
        {"root": str(b), "repo_id": "kuavo/task2", "weight": 1.0},
    ]
    return cfg


def test_weighted_sampler_tasks_and_per_dataset_val_loss(two_tasks, tmp_path):
    import torch

    from kuavo_cli.train.trainer import Trainer

    a, b = two_tasks
    run = tmp_path / "run"
    cfg = TrainConfig.model_validate(_multi_config(a, b, run, steps=4, eval_freq=2, batch_size=4))
    assert cfg.dataset.root == a  # `dataset` mirrors the first entry for everything that reads one
    trainer = Trainer(cfg).setup()
    train_set, sampler = trainer.train_set, trainer.sampler
    assert train_set.names == ["task1", "task2"]
    sizes = [len(d) for d in train_set.datasets]
    assert len(sampler) == sum(sizes)  # one epoch = as many draws as there are training frames

    # Weights are respected: 3:1 over 20 epochs (thousands of draws), whatever the dataset sizes.
    bounds = train_set.cumulative_sizes
    counts = Counter()
    for _ in range(20):
        counts.update(0 if i < bounds[0] else 1 for i in sampler)
    share = counts[0] / (counts[0] + counts[1])
    assert abs(share - 0.75) < 0.03, share
    # Deterministic per (seed, epoch); a resumed position continues the same order.
    sampler.set_epoch(3)
    full = list(sampler)
    sampler.load_state_dict({"epoch": 3, "start_index": 10})
    assert list(sampler) == full[10:]

    # Each sample carries its own dataset's task text (language-conditioned policies need it).
    for index in (0, bounds[0] - 1, bounds[0], len(train_set) - 1):
        item = train_set[index]
        assert item["task"] == (TASK_A if index < bounds[0] else TASK_B)
        assert int(item["dataset_index"]) == (0 if index < bounds[0] else 1)
    batch = next(iter(torch.utils.data.DataLoader(train_set, batch_size=8, sampler=sampler)))
    assert set(batch["task"]) <= {TASK_A, TASK_B}

    result = trainer.train()
    assert result["steps"] == 4
    vals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    vals = [r for r in vals if r["split"] == "val"]
    assert [r["step"] for r in vals] == [0, 2, 4]
    for record in vals:
        per = record["val_datasets"]
        assert set(per) == {"task1", "task2"} and all(v > 0 for v in per.values())
        # The overall loss is the sample-weighted mean of the per-dataset losses: between them.
        assert min(per.values()) - 1e-6 <= record["loss"] <= max(per.values()) + 1e-6
    split = json.loads((run / "split.json").read_text())
    assert [s["name"] for s in split["sources"]] == ["task1", "task2"]
    assert all(s["val_episodes"] for s in split["sources"])
    assert len(split["train_episodes"]) + len(split["val_episodes"]) == 9  # 4 + 5, numbered globally


def test_cli_logs_per_dataset_val_and_refuses_mismatched_features(two_tasks, synthetic_dataset, tmp_path):
    a, b = two_tasks
    cfg = write_config(tmp_path / "multi.yaml", _multi_config(a, b, tmp_path / "run", steps=2, eval_freq=2))
    result = run_cli("train", str(cfg))
    assert result.exit_code == 0, result.stderr
    assert "val loss per dataset at step 2: task1 " in result.stderr and "task2 " in result.stderr
    # kuavo eval picks each dataset's own held-out episodes from split.json (local episode numbers).
    sources = json.loads((tmp_path / "run" / "split.json").read_text())["sources"]
    for root, source in zip((a, b), sources, strict=True):
        evaluated = run_cli("eval", str(tmp_path / "run"), "--dataset", str(root), "--no-plots", "--json",
                            "--out", str(tmp_path / f"eval-{source['name']}"))  # fmt: skip
        assert evaluated.exit_code == 0, evaluated.stderr
        report = json.loads(evaluated.stdout)
        assert report["episodes"] == source["val_episodes"], report["episodes_source"]
        assert report["episodes_source"] == "held-out (split.json)"
    # synthetic_dataset has 64x48 cameras, task1 32x48: refused before training, naming the key.
    bad = _multi_config(a, synthetic_dataset, tmp_path / "bad")
    refused = run_cli("train", str(write_config(tmp_path / "bad.yaml", bad)))
    assert refused.exit_code == 2
    assert "observation.images.head_cam_h" in refused.stderr and "shape" in refused.stderr
    assert not (tmp_path / "bad").exists() or not list((tmp_path / "bad").rglob("*.safetensors"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["datasets"][1].update(root=c["datasets"][0]["root"]), "used twice"),
        (lambda c: c.update(dataset={"root": "/elsewhere"}), "dataset.root and datasets[0].root differ"),
        (lambda c: c["datasets"][0].update(weight=0), "greater than 0"),
        (lambda c: c["datasets"][0].update(wieght=2), "wieght"),
    ],
)
def test_config_errors_name_the_field(two_tasks, tmp_path, change, message):
    cfg = _multi_config(*two_tasks, tmp_path / "run")
    change(cfg)
    result = run_cli("config", "validate", str(write_config(tmp_path / "c.yaml", cfg)))
    assert result.exit_code == 2 and message in result.stderr, result.stderr
