"""Training options that must act as lerobot-train's do (peft, rename_map, sample_weighting, cudnn), the
bounded `best` checkpoint, wandb resume, signal handlers, and the refusals made before a run starts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from kuavo_cli.config import TrainConfig
from kuavo_cli.train import Trainer
from tests.cli_helpers import run_cli
from tests.train_fixtures import TINY_ACT, read_metrics, train_config, write_config


def _trainer(cfg: dict) -> Trainer:
    trainer = Trainer(TrainConfig.model_validate(cfg))
    trainer.setup()
    return trainer


@pytest.fixture(scope="module")
def base_act(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained tiny ACT to fine-tune (its pretrained_model folder)."""
    run = tmp_path_factory.mktemp("base") / "run"
    _trainer(train_config(synthetic_dataset, run, steps=2, save_freq=2, eval_freq=100)).train()
    return run / "checkpoints" / "last" / "pretrained_model"


def test_lora_trains_only_adapter_saves_resumes_and_evaluates(
    synthetic_dataset: Path, base_act: Path, tmp_path
):
    run = tmp_path / "lora"
    policy = {**TINY_ACT, "pretrained_path": str(base_act)}
    unused_camera = {"observation.images.not_in_this_dataset": "observation.images.renamed"}
    cfg = train_config(synthetic_dataset, run, policy=policy, steps=2, save_freq=2, eval_freq=2,
                       peft={"target_modules": ["linear1", "linear2"], "r": 4, "lora_alpha": 8},
                       rename_map=unused_camera, cudnn_deterministic=True)  # fmt: skip
    trainer = _trainer(cfg)
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    trainable = [
        n for n, p in trainer.accelerator.unwrap_model(trainer.policy).named_parameters() if p.requires_grad
    ]
    assert trainable and all("lora_" in n for n in trainable), trainable
    assert trainer.num_trainable < trainer.num_params / 20
    trainer.train()
    saved = run / "checkpoints" / "000002" / "pretrained_model"
    assert not (saved / "model.safetensors").exists()  # lerobot's PEFT layout: the adapter only
    adapter = load_file(saved / "adapter_model.safetensors")
    assert adapter and all("lora_" in k for k in adapter)
    assert json.loads((saved / "config.json").read_text())["use_peft"] is True
    train_cfg = json.loads((saved / "train_config.json").read_text())
    assert train_cfg["peft"]["r"] == 4 and train_cfg["rename_map"] == unused_camera
    assert train_cfg["cudnn_deterministic"] is True
    steps = json.loads((saved / "policy_preprocessor.json").read_text())["steps"]
    assert steps[0]["config"]["rename_map"] == unused_camera
    base_weights = load_file(base_act / "model.safetensors")  # the base model was never touched
    merged = trainer.accelerator.unwrap_model(trainer.policy).get_base_model()
    frozen = {k: v for k, v in merged.state_dict().items() if "lora_" not in k and "base_layer" not in k}
    assert all(torch.equal(frozen[k], base_weights[k]) for k in frozen if k in base_weights)

    resumed = run_cli("train", "--resume", str(run), "--steps", "4", "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert sorted(read_metrics(run, "train")) == [1, 2, 3, 4]
    assert (run / "checkpoints" / "000004" / "pretrained_model" / "adapter_model.safetensors").exists()
    ev = run_cli(
        "eval", str(run / "checkpoints" / "000004"), "--no-plots", "--json", "--out", str(tmp_path / "ev")
    )
    assert ev.exit_code == 0, ev.stderr
    assert json.loads(ev.stdout)
    torch.backends.cudnn.deterministic = False


def test_fine_tune_takes_the_pretrained_config_then_the_sections_overrides(
    synthetic_dataset: Path, base_act: Path, tmp_path: Path
):
    """As lerobot-train's `--policy.path=X --policy.n_action_steps=3`: the base model's config.json (its
    chunk_size 5 and dim_model 32, not lerobot's defaults 100 and 512) with the section's fields on top."""
    run = tmp_path / "ft"
    policy = {"type": "act", "pretrained_path": str(base_act), "n_action_steps": 3}
    trainer = _trainer(
        train_config(synthetic_dataset, run, policy=policy, steps=1, save_freq=1, eval_freq=100)
    )
    cfg = trainer.accelerator.unwrap_model(trainer.policy).config
    assert (cfg.chunk_size, cfg.dim_model, cfg.n_action_steps) == (5, 32, 3)
    base = load_file(base_act / "model.safetensors")
    loaded = trainer.accelerator.unwrap_model(trainer.policy).state_dict()
    assert all(torch.equal(loaded[k].cpu(), v) for k, v in base.items())  # the base weights, all of them
    trainer.train()
    saved = json.loads((run / "checkpoints" / "last" / "pretrained_model" / "config.json").read_text())
    assert (saved["chunk_size"], saved["dim_model"], saved["n_action_steps"]) == (5, 32, 3)
    shown = run_cli("config", "show", str(write_config(tmp_path / "s.yaml", train_config(
        synthetic_dataset, run, policy=policy))), "--json")  # fmt: skip
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["policy"]["dim_model"] == 32
    wrong = train_config(
        synthetic_dataset, run, policy={"type": "diffusion", "pretrained_path": str(base_act)}
    )
    result = run_cli("config", "validate", str(write_config(tmp_path / "w.yaml", wrong)))
    assert result.exit_code == 2 and "holds a 'act' policy" in result.stderr, result.stderr


def test_fine_tune_of_a_hub_model_not_downloaded_yet_uses_its_config(
    synthetic_dataset: Path, base_act: Path, tmp_path: Path
):
    """`pretrained_path: org/model` on a fresh HF cache, real huggingface_hub against the loopback hub: the
    model's config.json is fetched before the policy config is built (without it: lerobot's defaults, dim
    512, and an ImageNet backbone download that fails offline-from-the-internet)."""
    from tests.hub_server import HubServer

    run = tmp_path / "run"
    policy = {"type": "act", "pretrained_path": "kuavo/tiny-act"}
    config = write_config(tmp_path / "c.yaml", train_config(synthetic_dataset, run, policy=policy, steps=1,
                                                            save_freq=1, eval_freq=100))  # fmt: skip
    with HubServer() as hub:
        hub.add_folder("kuavo/tiny-act", base_act, repo_type="model")
        env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1",
               "HF_HOME": str(tmp_path / "hf_home"), "PYTHONPATH": str(Path(__file__).parents[1])}  # fmt: skip
        env.pop("HF_TOKEN", None)
        proc = subprocess.run(
            [sys.executable, "-m", "kuavo_cli", "train", str(config), "--json"],
            env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        weight_gets = hub.file_gets("model.safetensors")
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = json.loads((run / "checkpoints" / "last" / "pretrained_model" / "config.json").read_text())
    assert (saved["chunk_size"], saved["dim_model"], saved["pretrained_backbone_weights"]) == (5, 32, None)
    assert weight_gets == 1


def test_lerobot_options_validated_with_lerobot_classes(synthetic_dataset: Path, tmp_path: Path):
    cases = {
        "peft.rank": (
            {"peft": {"rank": 4}, "policy": {**TINY_ACT, "pretrained_path": "x"}},
            "peft.rank is not a field of lerobot's PeftConfig",
        ),
        "peft scratch": ({"peft": {"r": 4}}, "policy.pretrained_path"),
        "rename_map": ({"rename_map": {"a": "b"}}, "rename_map requires policy.pretrained_path"),
        "weighting": ({"sample_weighting": {"type": "best"}}, "'rabc' and 'uniform'"),
        "hub": ({"save_checkpoint_to_hub": True}, "policy.repo_id"),
    }
    for name, (extra, message) in cases.items():
        cfg = {**train_config(synthetic_dataset, tmp_path / "run"), **extra}
        result = run_cli("config", "validate", str(write_config(tmp_path / "c.yaml", cfg)))
        assert result.exit_code == 2 and message in result.stderr, (name, result.stderr)
    act_weighted = train_config(synthetic_dataset, tmp_path / "w", sample_weighting={"type": "uniform"})
    result = run_cli("train", str(write_config(tmp_path / "w.yaml", act_weighted)))
    assert result.exit_code == 2 and "reduction" in result.stderr, result.stderr
    assert not (tmp_path / "w" / "checkpoints").exists()


def test_signal_handlers_restored_after_train(synthetic_dataset: Path, tmp_path: Path):
    def mine(*_):
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        _trainer(train_config(synthetic_dataset, tmp_path / "r", steps=1, eval_freq=100)).train()
        assert signal.getsignal(signal.SIGTERM) is mine  # a notebook keeps its own handlers
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_best_checkpoint_only_at_save_points(synthetic_dataset: Path, tmp_path: Path):
    """Validation every step, saves every 4: full checkpoints only at save points, at most one model-only
    `best` folder per save point, and `best` is the lowest validation loss."""
    run = tmp_path / "run"
    _trainer(
        train_config(synthetic_dataset, run, steps=8, save_freq=4, eval_freq=1, only_last_best=False)
    ).train()
    ckpts = run / "checkpoints"
    full = sorted(p.name for p in ckpts.iterdir() if (p / "training_state").is_dir() and not p.is_symlink())
    assert full == ["000004", "000008"]
    model_only = [p for p in ckpts.iterdir() if p.name.isdigit() and not (p / "training_state").exists()]
    assert len(model_only) <= 2
    val = read_metrics(run, "val")
    best_step = min((s for s in val if s > 0), key=val.get)
    assert os.readlink(ckpts / "best") == f"{best_step:06d}"
    assert json.loads((ckpts / "best.json").read_text())["step"] == best_step
    best = ckpts / "best" / "pretrained_model"
    assert run_cli("eval", str(best), "--no-plots", "--json", "--out", str(tmp_path / "ev")).exit_code == 0


def test_wandb_resume_continues_the_run(synthetic_dataset: Path, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    run = tmp_path / "w"
    cfg = train_config(synthetic_dataset, run, steps=2, eval_freq=100, save_freq=2,
                       wandb={"enable": True, "project": "kuavo-test", "mode": "offline"})  # fmt: skip
    _trainer(cfg).train()
    first = list((run / "wandb").glob("offline-run-*"))
    assert len(first) == 1
    run_id = json.loads((run / "checkpoints/last/training_state/kuavo_state.json").read_text())[
        "wandb_run_id"
    ]
    assert run_id and first[0].name.endswith(run_id)
    resumed = run_cli("train", "--resume", str(run), "--steps", "3")
    assert resumed.exit_code == 0, resumed.stderr
    runs = sorted((run / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and all(p.name.endswith(f"-{run_id}") for p in runs)


def test_refused_before_launch(synthetic_dataset: Path, tmp_path: Path):
    cfg = write_config(
        tmp_path / "c.yaml", train_config(synthetic_dataset, tmp_path / "run", sync_batch_norms=True)
    )
    cpu_sync = run_cli("train", str(cfg), "--gpus", "2", "--cpu")
    assert cpu_sync.exit_code == 2 and "SyncBatchNorm only runs on CUDA" in cpu_sync.stderr
    fsdp = tmp_path / "fsdp.yaml"
    fsdp.write_text(
        "distributed_type: FSDP\nnum_processes: 2\nfsdp_config:\n  fsdp_sharding_strategy: FULL_SHARD\n"
    )
    plain = write_config(tmp_path / "p.yaml", train_config(synthetic_dataset, tmp_path / "run"))
    refused = run_cli("train", str(plain), "--gpus", "2", "--cpu", "--accelerate-config", str(fsdp))
    assert refused.exit_code == 2 and "FSDP is not supported" in refused.stderr, refused.stderr
    assert not (tmp_path / "run").exists()


def test_sync_batch_norms_says_what_it_does(synthetic_dataset: Path, tmp_path: Path):
    from kuavo_cli.train.preflight import apply_sync_batch_norms

    trainer = _trainer(train_config(synthetic_dataset, tmp_path / "r", steps=1, sync_batch_norms=True))
    assert trainer.sync_bn_note == "sync_batch_norms: one process, nothing to synchronise"
    policy = trainer.accelerator.unwrap_model(trainer.policy)
    same, note = apply_sync_batch_norms(trainer.cfg, policy, world=2)
    assert same is policy and "no trainable BatchNorm" in note and "frozen batch norm" in note


def test_resume_with_other_batch_size_refused(synthetic_dataset: Path, tmp_path: Path):
    run = tmp_path / "run"
    _trainer(train_config(synthetic_dataset, run, steps=2, save_freq=2, eval_freq=100)).train()
    saved = (run / "train_config.yaml").read_text()
    refused = run_cli("train", "--resume", str(run), "--batch-size", "2", "--steps", "4")
    assert refused.exit_code == 2, refused.stderr
    assert "batch_size 4 -> 2" in refused.stderr and "--batch-size 4" in refused.stderr
    assert (run / "train_config.yaml").read_text() == saved and sorted(read_metrics(run, "train")) == [1, 2]
    from kuavo_cli.errors import UsageError
    from kuavo_cli.train.api import run_training

    cfg = {**train_config(synthetic_dataset, run, steps=4, gradient_accumulation_steps=2), "resume": True}
    with pytest.raises(UsageError, match="gradient_accumulation_steps 1 -> 2"):  # the Python API refuses too
        run_training(cfg)


def test_save_checkpoint_to_hub_pushes_each_checkpoint(synthetic_dataset: Path, tmp_path: Path):
    """lerobot's push_checkpoint_to_hub, against a loopback hub: every saved checkpoint, tagged with its step."""
    from tests.cli_helpers import run_subprocess
    from tests.hub_upload_server import UploadHub

    policy = {**TINY_ACT, "repo_id": "kuavo-team/act-ckpts"}
    cfg = train_config(synthetic_dataset, tmp_path / "run", policy=policy, steps=2, save_freq=1, eval_freq=100,
                       save_checkpoint_to_hub=True)  # fmt: skip
    with UploadHub() as hub:
        env = {
            "HF_ENDPOINT": hub.url,
            "HF_HUB_OFFLINE": "0",
            "HF_HUB_DISABLE_XET": "1",
            "HF_TOKEN": "hf_test",
        }
        result = run_subprocess("train", str(write_config(tmp_path / "c.yaml", cfg)), env=env)
        assert result.exit_code == 0, result.stderr[-2000:]
        remote = hub.repos["kuavo-team/act-ckpts"]
        for step in ("000001", "000002"):
            local = tmp_path / "run" / "checkpoints" / "000002" / "pretrained_model" / "config.json"
            assert f"checkpoints/{step}/pretrained_model/model.safetensors" in remote
            assert f"checkpoints/{step}/training_state/training_step.json" in remote
            assert ("kuavo-team/act-ckpts", step) in hub.tags
        assert remote["checkpoints/000002/pretrained_model/config.json"] == local.read_bytes()
