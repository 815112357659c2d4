"""Config models: the seed's YAML examples load unchanged; bad configs give one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kuavo_cli.config import load_train_config
from kuavo_cli.errors import ConfigError
from lejurobot.configs.train import DistributedTrainConfig, TrainPipelineConfigLejuRobot
from tests.cli_helpers import run_cli
from tests.conftest import SEED_EXAMPLES

SINGLE = SEED_EXAMPLES / "config_single_gpu.yaml"
MULTI = SEED_EXAMPLES / "config_multi_gpu.yaml"


def test_seed_examples_load_unchanged():
    single = load_train_config(SINGLE)
    assert single.policy.type == "act"
    assert single.optimizer is not None and single.optimizer.lr == pytest.approx(1e-4)  # YAML 1.1 string
    assert (single.steps, single.batch_size, single.split_ratio, single.num_eval_batches) == (
        50000,
        32,
        0.8,
        50,
    )
    multi = load_train_config(MULTI)
    assert multi.gradient_accumulation_steps == 4 and multi.sync_batch_norms and multi.find_unused_parameters
    assert multi.effective_batch_size(4) == 128


def test_seed_defaults_of_python_classes():
    from kuavo_cli.config import DatasetSection

    base = TrainPipelineConfigLejuRobot(dataset=DatasetSection(repo_id="x"))
    assert (base.split_ratio, base.only_last_best, base.num_eval_batches) == (0.8, True, 50)
    dist = DistributedTrainConfig(dataset={"repo_id": "x"})
    assert dist.gradient_accumulation_steps == 1
    assert (dist.sync_batch_norms, dist.find_unused_parameters, dist.broadcast_buffers) == (False, True, True)
    assert (dist.enable_profiling, dist.profiling_warmup_steps, dist.profiling_active_steps) == (False, 5, 10)
    with pytest.raises(ValueError):  # the single-GPU config does not know the DDP-only fields
        TrainPipelineConfigLejuRobot(dataset={"repo_id": "x"}, gradient_accumulation_steps=2)


def test_lerobot_policy_instance_accepted():
    from lerobot.policies import ACTConfig

    cfg = DistributedTrainConfig(dataset={"repo_id": "x"}, policy=ACTConfig(chunk_size=20, n_action_steps=20))
    assert cfg.policy.type == "act"
    assert cfg.policy.to_lerobot().chunk_size == 20


def test_precedence_defaults_yaml_set_flags(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"dataset": {"repo_id": "a/b"}, "steps": 10, "batch_size": 4}))
    cfg = load_train_config(path, ["steps=20", "batch_size=6"], {"batch_size": 7, "policy": "diffusion"})
    assert cfg.steps == 20  # --set beats YAML
    assert cfg.batch_size == 7  # explicit flag beats --set
    assert cfg.policy.type == "diffusion"
    assert cfg.log_freq == 200  # default where nothing was said
    seed = load_train_config(SINGLE, flags={"policy": "diffusion"})  # the flag replaces the seed's `name:`
    assert seed.policy.type == "diffusion"


def test_policy_passthrough_coerced_and_checked_by_lerobot(tmp_path: Path):
    cfg = load_train_config(
        SINGLE, ["policy.chunk_size=20", "policy.n_action_steps=10", "policy.optimizer_lr=1e-5"]
    )
    lerobot_cfg = cfg.policy.to_lerobot()
    assert (lerobot_cfg.chunk_size, lerobot_cfg.n_action_steps) == (20, 10)
    assert lerobot_cfg.optimizer_lr == pytest.approx(1e-5)


MALFORMED = {
    "steps: -5": ({"steps": -5}, "steps"),
    "steps zero": ({"steps": 0}, "steps"),
    "steps string": ({"steps": "many"}, "steps"),
    "batch float": ({"batch_size": 2.5}, "batch_size"),
    "split 1.5": ({"split_ratio": 1.5}, "split_ratio"),
    "split 0": ({"split_ratio": 0}, "split_ratio"),
    "split 1": ({"split_ratio": 1.0}, "split_ratio"),
    "unknown top key": ({"stepz": 3}, "did you mean 'steps'"),
    "unknown dataset key": ({"dataset": {"repo_id": "a", "rooot": "x"}}, "did you mean 'root'"),
    "unknown policy": ({"policy": {"type": "transformerz"}}, "unknown policy type"),
    "policy typo": ({"policy": {"type": "act", "chunk_sise": 3}}, "did you mean 'chunk_size'"),
    "policy bad value": ({"policy": {"type": "act", "chunk_size": "big"}}, "chunk_size"),
    "policy lerobot rule": ({"policy": {"type": "act", "chunk_size": 5, "n_action_steps": 9}}, "chunk size"),
    "optimizer name": ({"optimizer": {"name": "lion"}}, "optimizer.name"),
    "optimizer lr negative": ({"optimizer": {"lr": -1}}, "optimizer.lr"),
    "optimizer unknown": ({"optimizer": {"lr": 1e-4, "beta": 0.9}}, "did you mean 'betas'"),
    "mixed precision": ({"mixed_precision": "fp8"}, "mixed_precision"),
    "wandb mode": ({"wandb": {"mode": "sometimes"}}, "wandb.mode"),
    "grad accum zero": ({"gradient_accumulation_steps": 0}, "gradient_accumulation_steps"),
    "sync bn not bool": ({"sync_batch_norms": "perhaps"}, "sync_batch_norms"),
    "negative episode": ({"dataset": {"repo_id": "a", "episodes": [-1]}}, "episode"),
    "duplicate episodes": ({"dataset": {"repo_id": "a", "episodes": [1, 1]}}, "repeat"),
    "dataset not mapping": ({"dataset": "abc"}, "dataset"),
    "video backend": ({"dataset": {"repo_id": "a", "video_backend": "opencv"}}, "video_backend"),
    "warmup > steps": ({"steps": 10, "scheduler": {"num_warmup_steps": 50}}, "num_warmup_steps"),
    "num workers negative": ({"num_workers": -2}, "num_workers"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_config_one_line_exit_2(tmp_path: Path, name: str):
    data, expected = MALFORMED[name]
    data = {"dataset": {"repo_id": "LejuRobotics/kuavo_data_challenge_icra"}, **data}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    result = run_cli("config", "validate", str(path))
    assert result.exit_code == 2, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "text,expected",
    [
        ("", "dataset: required field is missing"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("steps: [1,\n", "invalid YAML"),
    ],
)
def test_missing_dataset_and_broken_files(tmp_path: Path, text: str, expected: str):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    result = run_cli("config", "validate", str(path))
    assert result.exit_code == 2 and expected in result.stderr


def test_missing_file_exit_2(tmp_path: Path):
    result = run_cli("config", "validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_bad_set_override_exit_2():
    result = run_cli("config", "validate", str(SINGLE), "--set", "steps")
    assert result.exit_code == 2 and "key.path=value" in result.stderr


def test_config_show_resolves_everything():
    result = run_cli(
        "config",
        "show",
        str(MULTI),
        "--set",
        "policy.chunk_size=50",
        "--set",
        "policy.n_action_steps=50",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    import json

    data = json.loads(result.stdout)
    assert data["policy"]["chunk_size"] == 50
    assert data["policy"]["n_action_steps"] == 50 and data["policy"]["dim_model"] == 512  # lerobot default
    assert data["gradient_accumulation_steps"] == 4 and data["optimizer"]["lr"] == 1e-4


def test_config_error_is_typed():
    with pytest.raises(ConfigError) as info:
        load_train_config(SINGLE, ["split_ratio=2"])
    assert info.value.exit_code == 2


def _two_datasets(tmp_path: Path) -> Path:
    path = tmp_path / "mt.yaml"
    path.write_text(
        "datasets:\n  - {root: data/t1, weight: 2}\n  - {root: data/t2}\npolicy: {type: act}\n",
        encoding="utf-8",
    )
    return path


def test_set_reaches_an_entry_of_a_list_and_appends_one(tmp_path: Path):
    cfg = load_train_config(
        _two_datasets(tmp_path),
        [
            "datasets[1].root=data/t2b",
            "datasets[1].weight=0.5",
            "datasets[2].root=data/t3",
            "datasets[0].episodes=[0,2]",
        ],
    )
    assert [str(d.root) for d in cfg.datasets] == ["data/t1", "data/t2b", "data/t3"]
    assert [d.weight for d in cfg.datasets] == [2.0, 0.5, 1.0]  # the appended entry has the defaults
    assert cfg.datasets[0].episodes == [0, 2]
    result = run_cli(
        "config", "show", str(_two_datasets(tmp_path)), "--set", "datasets[1].root=data/t2c", "--json"
    )
    assert result.exit_code == 0, result.stderr
    import json

    assert json.loads(result.stdout)["datasets"][1]["root"] == "data/t2c"
    # no datasets list in the file: [0] starts one
    single = tmp_path / "one.yaml"
    single.write_text("policy: {type: act}\n", encoding="utf-8")
    cfg = load_train_config(single, ["datasets[0].root=data/t1", "datasets[1].root=data/t2"])
    assert [str(d.root) for d in cfg.datasets] == ["data/t1", "data/t2"]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("datasets[5].root=x", "datasets has 2 entries, so [5] is past its end (fix: use datasets[0] to"),
        ("datasets.root=x", "datasets is a list"),
        ("policy[0]=x", "policy is not a list"),
        ("datasets[a].root=x", "'datasets[a]' is not a key or key[index]"),
    ],
)
def test_bad_list_override_names_the_field_exit_2(tmp_path: Path, override: str, expected: str):
    result = run_cli("config", "validate", str(_two_datasets(tmp_path)), "--set", override)
    assert result.exit_code == 2, result.stdout
    assert expected in result.stderr and "Traceback" not in result.stderr
