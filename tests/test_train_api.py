"""`kuavo_cli.train.api.train`: what `kuavo train` does, for Python users (validation, refusals, relaunch)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rich.console import Console

from kuavo_cli.config import TrainConfig
from kuavo_cli.errors import ConfigError, UsageError
from kuavo_cli.train.api import train
from tests.train_fixtures import read_metrics, train_config

QUIET = Console(stderr=True, quiet=True)


def test_overrides_and_flags_apply_as_on_the_command_line(synthetic_dataset: Path, tmp_path: Path):
    run = tmp_path / "run"
    cfg = train_config(synthetic_dataset, run, steps=5, eval_freq=100, save_freq=100)
    result = train(cfg, ["steps=2"], {"batch_size": 2, "lr": None}, console=QUIET)
    assert result["steps"] == 2 and result["effective_batch_size"] == 2 and result["rank"] == 0
    saved = yaml.safe_load((run / "train_config.yaml").read_text())
    assert (saved["steps"], saved["batch_size"], saved["optimizer"]["lr"]) == (2, 2, 1e-3)
    assert sorted(read_metrics(run, "train")) == [1, 2]


def test_refusals_before_anything_starts(synthetic_dataset: Path, tmp_path: Path):
    with pytest.raises(UsageError, match="no config given"):
        train(console=QUIET)
    with pytest.raises(ConfigError, match="batch_size"):  # the CLI's one-line config errors
        train(train_config(synthetic_dataset, tmp_path / "bad"), flags={"batch_size": 0}, console=QUIET)
    sync_bn = TrainConfig.model_validate(
        train_config(synthetic_dataset, tmp_path / "run", sync_batch_norms=True, gpus=2)
    )
    with pytest.raises(UsageError, match="SyncBatchNorm only runs on CUDA"):  # refused before the launch
        train(sync_bn, console=QUIET)
    assert not (tmp_path / "run").exists() and not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_a_config_object_relaunches_on_two_processes(synthetic_dataset: Path, tmp_path: Path):
    """A Python config object (no YAML file) with gpus 2 trains on two launched CPU processes."""
    run = tmp_path / "run"
    cfg = TrainConfig.model_validate(
        train_config(synthetic_dataset, run, steps=2, eval_freq=2, save_freq=2, log_freq=1, gpus=2)
    )
    assert train(cfg, console=QUIET) == {"launched": True, "exit_code": 0, "num_processes": 2}
    assert sorted(read_metrics(run, "train")) == [1, 2]
    assert (run / "checkpoints" / "last" / "training_state" / "rng_state_rank1.safetensors").exists()
    assert yaml.safe_load((run / "train_config.yaml").read_text()) == cfg.model_dump(mode="json")
