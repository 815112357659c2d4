"""`kuavo export`: a briefly trained ACT (real lerobot-train) exported in every format and checked for real."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from kuavo_cli.checkpoints import load_policy, resolve_checkpoint
from kuavo_cli.errors import KuavoError
from tests.cli_helpers import run_cli, run_subprocess
from tests.hub_upload_server import UploadHub
from tests.lerobot_ckpt import train_with_lerobot

FAKE_TOKEN = "hf_" + "Q7xZ" * 9  # token-shaped, never valid


@pytest.fixture(scope="module")
def act_run(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain `lerobot-train` run folder: checkpoints/000010 and a `last` link, train_config.json."""
    return train_with_lerobot(synthetic_dataset, tmp_path_factory.mktemp("export") / "run", steps=10)


@pytest.fixture(scope="module")
def original(act_run: Path):
    """(policy, preprocessor, postprocessor) of the checkpoint as lerobot loads it."""
    policy, _cfg, pre, post = load_policy(resolve_checkpoint(act_run))
    return policy, pre, post


def observation(seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    obs = {"observation.state": torch.randn(16, generator=gen)}
    for cam in ("head_cam_h", "wrist_cam_l", "wrist_cam_r"):
        obs[f"observation.images.{cam}"] = torch.rand(3, 48, 64, generator=gen)
    return obs


def chunk(policy, pre, post, seed: int = 0) -> torch.Tensor:
    """The full unnormalised action chunk through lerobot's own pipeline."""
    with torch.no_grad():
        return post(policy.predict_action_chunk(pre(observation(seed))))


def first_action(policy, pre, post, seed: int = 0) -> torch.Tensor:
    policy.reset()
    with torch.no_grad():
        return post(policy.select_action(pre(observation(seed))))


def scan_for_private(name: str, data: bytes, private: list[str]) -> list[str]:
    """What must never be published: host temp/home paths, the run's own path, token-shaped strings."""
    text = data.decode("latin-1")
    found = [p for p in private if p in text]
    found += re.findall(r"(?<![\w.~-])/tmp/\S*|/home/[\w.-]+|hf_[A-Za-z0-9]{30,}", text)
    return [f"{name}: {f}" for f in found]


def leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".partial-" in p.name or ".old-" in p.name]


# ---- lerobot bundle ---------------------------------------------------------------------------------


def test_lerobot_bundle_reloads_with_identical_actions(act_run: Path, original, tmp_path: Path) -> None:
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    # what `kuavo train` / `kuavo eval` leave in a run, so the model card can report them
    (act_run / "metrics.jsonl").write_text(
        "\n".join(json.dumps({"step": s, "split": "val", "loss": v}) for s, v in ((5, 0.9), (10, 0.7))) + "\n"
    )
    (act_run / "eval" / "000010").mkdir(parents=True, exist_ok=True)
    report = {"checkpoint": {"step": 10}, "overall": {"mse": 0.0123}, "per_joint": [{"mse": 9.0}]}
    (act_run / "eval" / "000010" / "report.json").write_text(json.dumps(report))
    out = tmp_path / "bundle"
    res = run_cli("export", str(act_run), "--format", "lerobot", "--out", str(out), "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["step"] == 10 and data["policy_type"] == "act" and data["dataset"] == "kuavo/synthetic"
    assert sorted(data["files"]) == sorted(
        [
            "README.md",
            "config.json",
            "model.safetensors",
            "policy_preprocessor.json",
            "policy_preprocessor_step_3_normalizer_processor.safetensors",
            "policy_postprocessor.json",
            "policy_postprocessor_step_0_unnormalizer_processor.safetensors",
        ]
    )
    card = (out / "README.md").read_text()
    for expected in (
        "library_name: lerobot",
        "kuavo/synthetic",
        "| Training steps | 10 |",
        "best val loss | 0.7",
    ):
        assert expected in card
    assert "| mse | 0.0123 |" in card and '"chunk_size": 5' in card  # eval metrics, exact train config
    assert '"root": "<local>/' in card and str(act_run) not in card  # paths redacted, not leaked

    # lerobot's own loaders, unchanged, give the same actions as the original checkpoint
    policy = get_policy_class("act").from_pretrained(str(out))
    pre, post = make_pre_post_processors(policy.config, pretrained_path=str(out))
    for seed in (0, 1):
        assert torch.equal(chunk(policy, pre, post, seed), chunk(*original, seed))
        assert torch.equal(first_action(policy, pre, post, seed), first_action(*original, seed))


def test_existing_output_needs_force_and_is_replaced_atomically(act_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    assert run_cli("export", str(act_run), "--out", str(out)).exit_code == 0
    (out / "stale.txt").write_text("from an older export")
    again = run_cli("export", str(act_run), "--out", str(out))
    assert again.exit_code == 2 and "already exists" in again.stderr and "--force" in again.stderr
    assert (out / "stale.txt").exists()
    forced = run_cli("export", str(act_run), "--out", str(out), "--force")
    assert forced.exit_code == 0, forced.stderr
    assert not (out / "stale.txt").exists() and (out / "model.safetensors").exists()
    assert leftovers(tmp_path) == []
    # an --out that holds the checkpoint itself would be wiped by --force: refused
    res = run_cli("export", str(act_run), "--out", str(act_run), "--force")
    assert res.exit_code == 2 and "contains the checkpoint" in res.stderr
    assert (act_run / "checkpoints" / "last" / "pretrained_model" / "model.safetensors").exists()


def test_pickle_only_checkpoint_is_refused(act_run: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "pretrained_model"
    ckpt.mkdir()
    shutil.copy(act_run / "checkpoints" / "last" / "pretrained_model" / "config.json", ckpt)
    (ckpt / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    res = run_cli("export", str(ckpt), "--format", "onnx", "--out", str(tmp_path / "o"))
    assert res.exit_code == 2
    assert "pickle" in res.stderr and "refusing" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o").exists()


def fake_checkpoint(root: Path, kind: str) -> Path:
    """A checkpoint whose config names another policy type (rejected before any weights are loaded)."""
    from safetensors.torch import save_file

    root.mkdir()
    (root / "config.json").write_text(json.dumps({"type": kind}))
    save_file({}, str(root / "model.safetensors"))  # a whole (empty) file: passes the integrity check
    return root


@pytest.mark.parametrize(
    ("fmt", "kind", "message"),
    [
        ("kit", "smolvla", "not supported by the kit in-process"),
        ("kit", "diffusion", "--format kit --client"),
        # a submission of pi0 & co. is not refused: it runs in client mode (tests/test_submission_check.py)
        ("onnx", "diffusion", "diffusion policies is not supported"),
        ("torchscript", "vqbet", "supports act policies"),
    ],
)
def test_unsupported_policy_types_exit_2(tmp_path: Path, fmt: str, kind: str, message: str) -> None:
    ckpt = fake_checkpoint(tmp_path / "ckpt", kind)
    res = run_cli(
        "export", str(ckpt), "--format", fmt, "--team", "t", "--task", "1", "--out", str(tmp_path / "o")
    )
    assert res.exit_code == 2 and message in res.stderr, res.stderr
    assert not (tmp_path / "o").exists()


# ---- competition kit layout -------------------------------------------------------------------------


def test_kit_layout_is_the_one_the_deploy_code_reads(act_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "kit"
    res = run_cli(
        "export",
        str(act_run),
        "--format",
        "kit",
        "--task",
        "2",
        "--device",
        "cpu",
        "--out",
        str(out),
        "--json",
    )
    assert res.exit_code == 0, res.stderr
    kit = json.loads(res.stdout)["kit"]
    assert kit["policy_type"] == kit["method"] == "act" and kit["task"] == "task2"
    assert (
        re.fullmatch(r"run_\d{8}_\d{6}", kit["timestamp"]) and kit["epoch"] == 10
    )  # no `best` link: the step
    run_dir = out / "outputs" / "train" / "task2" / "act" / kit["timestamp"]
    epoch_dir = run_dir / "epoch10"
    assert sorted(p.name for p in epoch_dir.iterdir()) == ["config.json", "model.safetensors"]
    assert (run_dir / "policy_preprocessor.json").exists() and (
        run_dir / "policy_postprocessor.json"
    ).exists()
    snippet = (out / "configs" / "deploy" / "kuavo_env.inference.yaml").read_text()
    import yaml

    assert yaml.safe_load(snippet) == {"inference": kit}

    # written for the kit's wrapper on lerobot 0.4.2 (tests/test_kit_lerobot042.py loads it there and compares
    # actions): its registered config type, RGB-only custom settings, no field 0.4.2's draccus would reject
    config = json.loads((epoch_dir / "config.json").read_text())
    assert config["type"] == "custom_act" and config["custom"] == {"use_depth": False}
    assert "use_peft" not in config and "pretrained_revision" not in config and config["device"] == "cpu"
    src = act_run / "checkpoints" / "last" / "pretrained_model"
    assert (epoch_dir / "model.safetensors").read_bytes() == (src / "model.safetensors").read_bytes()


# ---- ONNX / TorchScript -----------------------------------------------------------------------------


def test_onnx_export_matches_pytorch_and_catches_a_tampered_graph(
    act_run: Path, original, tmp_path: Path
) -> None:
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    from kuavo_cli.export.api import run_demo_export
    from kuavo_cli.export.graph_export import verify_onnx_file

    summary = run_demo_export(act_run, Path("unused"), tmp_path / "demo")  # what `kuavo demo` step 4 runs
    assert summary["onnx_max_abs_diff"] < 1e-4
    assert summary["latency_ms"]["pytorch"] > 0 and summary["latency_ms"]["onnxruntime"] > 0
    model_path = Path(summary["onnx"]) / "model.onnx"
    assert (Path(summary["lerobot"]) / "model.safetensors").exists()

    # inputs are the dataset features; normalisation is inside: raw observation in, raw action chunk out
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    assert names == [
        "observation.state",
        "observation.images.head_cam_h",
        "observation.images.wrist_cam_l",
        "observation.images.wrist_cam_r",
    ]
    obs = observation(3)
    got = session.run(["action"], {n: obs[n].unsqueeze(0).numpy() for n in names})[0]
    expected = chunk(*original, seed=3).numpy()
    assert got.shape == expected.shape == (1, 5, 16)
    assert np.max(np.abs(got - expected)) < 1e-4

    # nudge one filter of the saved graph: the same verification must now fail with exit code 1
    model = onnx.load(str(model_path))
    init = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)) if t.data_type == 1 else 0)
    weights = numpy_helper.to_array(init).copy()
    weights[0] += 0.05  # one output filter / row, nudged by 0.05
    init.CopyFrom(numpy_helper.from_array(weights, init.name))
    tampered = tmp_path / "tampered.onnx"
    onnx.save(model, str(tampered))
    with pytest.raises(KuavoError) as err:
        verify_onnx_file(tampered, act_run)
    assert err.value.exit_code == 1 and "does not match PyTorch" in err.value.message
    assert verify_onnx_file(model_path, act_run)["max_abs_diff"] < 1e-4  # the untouched file still passes


def test_onnx_parity_failure_exits_1_and_keeps_nothing(act_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "onnx"
    res = run_cli("export", str(act_run), "--format", "onnx", "--out", str(out), "--atol", "1e-12")
    assert res.exit_code == 1 and "does not match PyTorch" in res.stderr and "nothing was kept" in res.stderr
    assert not out.exists() and leftovers(tmp_path) == []


def test_torchscript_export_matches_pytorch(act_run: Path, original, tmp_path: Path) -> None:
    out = tmp_path / "ts"
    res = run_cli("export", str(act_run), "--format", "torchscript", "--out", str(out), "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["max_abs_diff"] < 1e-4 and set(data["latency_ms"]) == {"pytorch", "torchscript"}
    module = torch.jit.load(str(out / "model.torchscript.pt"))
    obs = observation(4)
    keys = list(json.loads((out / "export_info.json").read_text())["inputs"])
    with torch.no_grad():
        got = module(*(obs[k].unsqueeze(0) for k in keys))
    assert torch.allclose(got, chunk(*original, seed=4), atol=1e-5)


# ---- submission package -----------------------------------------------------------------------------


def test_submission_zip_has_what_the_organisers_require(act_run: Path, tmp_path: Path) -> None:
    from kuavo_cli.export.submission import docker_engine_available

    out = tmp_path / "sub"
    res = run_cli("export", str(act_run), "--format", "submission", "--team", "lejuteam", "--task", "1",
                  "--out", str(out), "--json")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["image"] == "lejuteam_task1" and data["image_tar"] == "lejuteam_task1.tar"
    archive = out / "lejuteam_task1_submission.zip"
    assert Path(data["archive"]) == archive and archive.exists()
    assert any("UNCONFIRMED" in n for n in data["notes"])
    assert any("No Docker engine" in n for n in data["notes"]) == (not docker_engine_available())

    with zipfile.ZipFile(archive) as zf:
        members = {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
        modes = {n.split("/", 1)[1]: (zf.getinfo(n).external_attr >> 16) & 0o777 for n in zf.namelist()}
    kit = data["kit"]
    run_rel = f"outputs/train/task1/act/{kit['timestamp']}"
    for required in (
        "run_with_gpu.sh",
        "Dockerfile",
        "build_submission.sh",
        "README.md",
        f"{run_rel}/epoch{kit['epoch']}/config.json",
        f"{run_rel}/epoch{kit['epoch']}/model.safetensors",
        f"{run_rel}/policy_preprocessor.json",
        f"{run_rel}/policy_postprocessor.json",
        "configs/deploy/kuavo_env.inference.yaml",
        "kuavo_submission/infer.py",
        "kuavo_submission/policy.json",
    ):
        assert required in members, required
    assert modes["run_with_gpu.sh"] & 0o111 and modes["build_submission.sh"] & 0o111
    assert not [m for m in members if m.startswith("outputs/") and not m.startswith(run_rel)]  # one model set
    start = members["run_with_gpu.sh"].decode()
    assert 'IMAGE_NAME="lejuteam_task1"' in start and 'IMAGE_TAR="${IMAGE_NAME}.tar"' in start
    assert "--gpus all" in start and "ROS_MASTER_URI=http://127.0.0.1:11311" in start
    assert re.search(r"^FROM ros:noetic-ros-core-focal", members["Dockerfile"].decode(), re.M)
    build = members["build_submission.sh"].decode()
    assert 'IMAGE_NAME="lejuteam_task1"' in build and "lejuteam_task1_submission.zip" in build
    pre_steps = json.loads(members[f"{run_rel}/policy_preprocessor.json"])["steps"]
    assert [s["config"]["device"] for s in pre_steps if s["registry_name"] == "device_processor"] == ["cuda"]
    for script in ("run_with_gpu.sh", "build_submission.sh"):
        assert subprocess.run(["sh", "-n", "-c", members[script].decode()]).returncode == 0

    private = [str(act_run), str(tmp_path)] + ([str(Path.home()) + "/"] if len(str(Path.home())) > 5 else [])
    # the image's own working directory (the kit's fixed path) is not a host path
    members_host = {n: b.replace(b"/root/kuavo_data_challenge", b"") for n, b in members.items()}
    problems = [p for name, blob in members_host.items() for p in scan_for_private(name, blob, private)]
    assert problems == []

    # the entry point loads the unzipped policy exactly as the kit does, and merges the deploy settings
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path / "unzipped")
    pkg = tmp_path / "unzipped" / "lejuteam_task1_submission"
    proc = subprocess.run([sys.executable, "kuavo_submission/infer.py", "--device", "cpu"], cwd=pkg,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["action_shape"] == [16]
    env_yaml = pkg / "configs" / "deploy" / "kuavo_env.yaml"
    env_yaml.write_text('env:\n  ros_rate: 10\ninference:\n  policy_type: "diffusion"  # act or diffusion\n'
                        '  epoch: 50\n  max_episode_steps: 200\n')  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "kuavo_submission/apply_inference_config.py"], cwd=pkg, capture_output=True
    )
    assert proc.returncode == 0, proc.stderr
    import yaml

    merged = yaml.safe_load(env_yaml.read_text())
    assert merged["inference"] == {**kit, "max_episode_steps": 200} and merged["env"] == {"ros_rate": 10}
    assert "# act or diffusion" in env_yaml.read_text()


def test_submission_needs_team_and_task(act_run: Path, tmp_path: Path) -> None:
    res = run_cli(
        "export", str(act_run), "--format", "submission", "--task", "1", "--out", str(tmp_path / "s")
    )
    assert res.exit_code == 2 and "--team" in res.stderr
    res = run_cli("export", str(act_run), "--format", "submission", "--team", "a b", "--task", "1")
    assert res.exit_code == 2 and "--team" in res.stderr


def test_planted_token_fails_the_export_and_writes_nothing(act_run: Path, tmp_path: Path) -> None:
    src = act_run / "checkpoints" / "last" / "pretrained_model"
    ckpt = tmp_path / "leaky" / "pretrained_model"
    ckpt.mkdir(parents=True)
    for f in src.iterdir():
        (ckpt / f.name).symlink_to(f)
    (ckpt / "train_config.json").unlink()
    cfg = json.loads((src / "train_config.json").read_text())
    cfg["wandb"]["notes"] = f"hub token {FAKE_TOKEN}"
    (ckpt / "train_config.json").write_text(json.dumps(cfg))
    for fmt in ("submission", "lerobot"):
        out = tmp_path / f"out-{fmt}"
        res = run_cli("export", str(ckpt), "--format", fmt, "--team", "t", "--task", "1", "--out", str(out))
        assert res.exit_code == 1, res.stderr
        assert "Hugging Face token" in res.stderr and "nothing was written" in res.stderr
        assert FAKE_TOKEN not in res.stderr  # the message masks it
        assert not out.exists() and leftovers(tmp_path) == []


# ---- push to hub ------------------------------------------------------------------------------------


def test_push_to_hub_uploads_the_bundle_to_a_loopback_hub(act_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    with UploadHub() as hub:
        env = {
            "HF_ENDPOINT": hub.url,
            "HF_HUB_OFFLINE": "0",
            "HF_HUB_DISABLE_XET": "1",
            "HF_TOKEN": FAKE_TOKEN,
        }
        res = run_subprocess("export", str(act_run), "--out", str(out), "--push-to-hub", "kuavo-team/act-demo",
                             "--json", env=env, timeout=300)  # fmt: skip
        assert res.exit_code == 0, res.stderr[-2000:]
        assert json.loads(res.stdout)["hub"]["url"] == f"{hub.url}/kuavo-team/act-demo"
        remote = hub.repos["kuavo-team/act-demo"]
        local = {p.name: p.read_bytes() for p in out.iterdir()}
        assert remote == local  # every file arrived, byte for byte
        assert len(hub.lfs_puts) == 3  # the .safetensors files went through git-LFS, as on the real hub
        assert hub.auth_headers == {f"Bearer {FAKE_TOKEN}"}


def test_push_to_hub_usage_errors(act_run: Path, tmp_path: Path) -> None:
    res = run_cli(
        "export", str(act_run), "--format", "onnx", "--push-to-hub", "a/b", "--out", str(tmp_path / "x")
    )
    assert res.exit_code == 2 and "--format lerobot" in res.stderr
    res = run_cli("export", str(act_run), "--push-to-hub", "not a repo", "--out", str(tmp_path / "y"))
    assert res.exit_code == 2 and "NAMESPACE/NAME" in res.stderr
    # conftest sets HF_HUB_OFFLINE=1: refused up front with a clear message, nothing exported
    res = run_cli("export", str(act_run), "--push-to-hub", "a/b", "--out", str(tmp_path / "z"))
    assert res.exit_code == 2 and "HF_HUB_OFFLINE" in res.stderr and not (tmp_path / "z").exists()


# ---- `kuavo train` run folders ----------------------------------------------------------------------


def test_kuavo_train_run_folder_exports_its_best_checkpoint(act_run: Path, tmp_path: Path) -> None:
    """The layout `kuavo train` writes: step folders, `best`/`last` links, best.json, train_config.yaml."""
    run = tmp_path / "run_20250102_030405"
    ckpts = run / "checkpoints"
    ckpts.mkdir(parents=True)
    src = act_run / "checkpoints" / "000010"
    for step in ("000005", "000010"):
        shutil.copytree(src, ckpts / step, copy_function=os.symlink)  # cheap: links to the real files
    (ckpts / "best").symlink_to("000005")
    (ckpts / "last").symlink_to("000010")
    (ckpts / "best.json").write_text(json.dumps({"step": 5, "val_loss": 0.5}))
    (run / "train_config.yaml").write_text(
        f"dataset:\n  repo_id: kuavo/synthetic\n  root: {tmp_path}/data\nsteps: 10\n"
    )
    res = run_cli("export", str(run), "--format", "kit", "--task", "3", "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert (
        data["checkpoint"].endswith("checkpoints/best/pretrained_model")
        and Path(data["out"]) == run / "exports" / "kit"
    )
    assert data["kit"]["epoch"] == "best" and data["kit"]["timestamp"] == "run_20250102_030405"
    card = (run / "exports" / "kit" / "outputs/train/task3/act/run_20250102_030405/README.md").read_text()
    assert "best val loss | 0.5" in card and "root: <local>/data" in card and "steps: 10" in card


def test_help_lists_every_format() -> None:
    res = run_cli("export", "--help")
    assert res.exit_code == 0
    for fmt in ("lerobot", "kit", "onnx", "torchscript", "submission", "--push-to-hub", "--team", "--task"):
        assert fmt in res.stdout
