"""`kuavo doctor` against a broken environment (fake ffmpeg first on PATH, no GPUs, no token, stale
accelerate config, no wandb key), each check on its own, and a healthy-ish run."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from kuavo_cli.cli.doctor import EXAMPLE
from kuavo_cli.doctor import accounts, gpu, resources, software

PYTHON = sys.executable
STALE_ACCELERATE = """compute_environment: LOCAL_MACHINE
distributed_type: MULTI_GPU
num_processes: 4
mixed_precision: bf16
gpu_ids: all
"""


def fake_ffmpeg(folder: Path, version: str) -> Path:
    """An `ffmpeg` executable that reports `version`, like a conda-forge FFmpeg 8 install would."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / "ffmpeg"
    exe.write_text(
        f"#!/bin/sh\necho 'ffmpeg version {version} Copyright (c) 2000-2025 the FFmpeg developers'\n"
    )
    exe.chmod(0o755)
    return exe


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test process environment minus every credential/setting doctor reads, HOME in a tmp dir."""
    env = {k: v for k, v in os.environ.items()}
    for var in (
        "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_ENDPOINT", "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE", "WANDB_API_KEY", "WANDB_MODE", "WANDB_DISABLED", "NETRC", "XDG_CACHE_HOME",
        "ACCELERATE_CONFIG_FILE", "NO_COLOR", "CUDA_VISIBLE_DEVICES", "CONDA_PREFIX",
    ):  # fmt: skip
        env.pop(var, None)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), HF_HOME=str(tmp_path / "hf_home"), **extra)
    return env


def doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "kuavo_cli", "doctor", *args],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=180,
    )  # fmt: skip


def by_name(checks: list[dict], name: str) -> dict:
    return next(c for c in checks if c["name"] == name)


def test_broken_environment_reports_each_problem_with_its_fix(tmp_path):
    fake_ffmpeg(tmp_path / "bin", "9.0")  # newer than any torchcodec supports -> an error
    hf_home = tmp_path / "hf_home"
    (hf_home / "accelerate").mkdir(parents=True)
    (hf_home / "accelerate" / "default_config.yaml").write_text(STALE_ACCELERATE)
    env = clean_env(
        tmp_path,
        PATH=f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
        CUDA_VISIBLE_DEVICES="",
        NO_COLOR="1",
    )
    proc = doctor(env, "--json", "--num-workers", "64", "--path", str(tmp_path / "not" / "yet"))
    assert proc.returncode == 1, proc.stderr  # the ffmpeg error fails the run
    report = json.loads(proc.stdout)
    checks = report["checks"]
    assert report["ok"] is False and report["summary"]["error"] >= 1

    ffmpeg = by_name(checks, "ffmpeg")
    assert (
        ffmpeg["status"] == "error"
        and "9.0" in ffmpeg["detail"]
        and str(tmp_path / "bin") in ffmpeg["detail"]
    )
    assert "ffmpeg" in ffmpeg["fix"] and (
        str(tmp_path / "bin") in ffmpeg["fix"] or "ffmpeg<9" in ffmpeg["fix"]
    )
    gpus = by_name(checks, "gpus")
    assert gpus["status"] == "warning" and gpus["fix"]
    hub = by_name(checks, "hub login")
    assert hub["status"] == "warning" and hub["fix"] == "hf auth login" and str(hf_home) in hub["detail"]
    acc = by_name(checks, "accelerate config")
    assert acc["status"] == "warning" and "num_processes 4" in acc["detail"] and "0 GPU(s)" in acc["detail"]
    assert acc["fix"].startswith("rm ") and "accelerate config default" in acc["fix"]
    wandb = by_name(checks, "wandb")
    assert wandb["status"] == "warning" and "prompt" in wandb["detail"] and "wandb login" in wandb["fix"]
    cpu = by_name(checks, "cpu")
    assert cpu["status"] == "warning" and "--set num_workers=" in cpu["fix"]
    disk = by_name(checks, "disk")
    assert str(tmp_path / "not" / "yet") in disk["detail"]
    assert all(c["fix"] for c in checks if c["status"] != "ok")

    # The same run as a table: marks, one fix line per problem, no colour codes (NO_COLOR, not a TTY).
    table = doctor(env, "--num-workers", "64")
    assert table.returncode == 1
    assert "✗" in table.stdout and "!" in table.stdout and "✓" in table.stdout
    assert "\x1b[" not in table.stdout
    fixes = table.stdout.split("Fixes:", 1)[1]
    assert "✗ ffmpeg: " in fixes and "! hub login: hf auth login" in fixes
    assert "error(s)" in table.stdout


def test_healthy_ish_environment_exits_zero(tmp_path):
    hf_home = tmp_path / "hf_home"
    (hf_home / "accelerate").mkdir(parents=True)
    (hf_home / "accelerate" / "default_config.yaml").write_text(
        "compute_environment: LOCAL_MACHINE\ndistributed_type: 'NO'\nnum_processes: 1\nmixed_precision: 'no'\n"
    )
    secret = "hf_doctorNeverPrintsThis1234"
    env = clean_env(tmp_path, HF_TOKEN=secret, WANDB_MODE="offline")
    example = shlex.split(EXAMPLE.removeprefix("Example: kuavo doctor"))  # the --help example, as JSON
    proc = doctor(env, *example, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True and report["summary"]["error"] == 0
    assert secret not in proc.stdout + proc.stderr
    for name in (
        "python",
        "lerobot",
        "torch",
        "accelerate",
        "typer",
        "hub login",
        "wandb",
        "accelerate config",
    ):
        assert by_name(report["checks"], name)["status"] == "ok", by_name(report["checks"], name)
    assert by_name(report["checks"], "hub login")["detail"] == "token from $HF_TOKEN"


def test_ffmpeg_8_first_on_path(tmp_path, monkeypatch):
    loaded, problem = software.probe_torchcodec()
    path = fake_ffmpeg(tmp_path / "bin8", "8.0")
    monkeypatch.setenv("PATH", f"{path.parent}{os.pathsep}{os.environ['PATH']}")
    check = software.check_ffmpeg(loaded)
    majors = software.torchcodec_ffmpeg_majors()
    if majors and max(majors) < 8:  # a torchcodec older than FFmpeg 8 support: the seed README's case
        assert check.status == "error" and "ffmpeg<8" in check.fix
    elif loaded is not None and loaded != 8:  # torchcodec loads another FFmpeg than the one on PATH
        assert check.status == "warning" and str(path.parent) in check.fix
        assert f"FFmpeg {loaded}" in check.detail
    else:
        assert check.status == "ok"
    assert "8.0" in check.detail


def test_ffmpeg_missing_from_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    check = software.check_ffmpeg(None)
    assert check.status == "warning" and "no `ffmpeg` on PATH" in check.detail and "ffmpeg" in check.fix


def test_system_ffmpeg_and_torchcodec_here():
    loaded, problem = software.probe_torchcodec()
    assert problem is None and loaded == int(software.ffmpeg_cli_version("ffmpeg").split(".")[0])
    assert software.check_ffmpeg(loaded).status == "ok"
    assert software.check_torchcodec(loaded, problem).status == "ok"
    broken = software.check_torchcodec(None, "libavutil.so.58: cannot open shared object file")
    assert broken.status == "warning" and "PyAV" in broken.detail


def test_packages_and_python():
    assert software.check_python().status == "ok"
    for check in software.check_packages():
        assert check.status == "ok", check
    missing = software.check_package("kuavo-no-such-package")
    assert missing.status == "error" and missing.fix == "pip install kuavo-no-such-package"


def test_no_gpu_is_reported_with_a_fix():
    inv = gpu.gpu_inventory()
    if inv.count:
        pytest.skip("this machine has GPUs")
    check = gpu.check_gpus(inv)
    assert check.status == "warning" and check.fix and "CPU" in check.detail
    assert gpu.check_nccl(inv).status == "ok"


def test_accelerate_config_variants(tmp_path, monkeypatch):
    monkeypatch.delenv("ACCELERATE_CONFIG_FILE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    inv = gpu.GpuInventory(torch_version="x", cuda_build="12.8", devices=[("GPU", 80 * 2**30)] * 2)
    assert gpu.check_accelerate_config(inv).status == "ok"  # none at all is fine
    cfg = tmp_path / "accelerate" / "default_config.yaml"
    cfg.parent.mkdir()
    cfg.write_text(STALE_ACCELERATE)
    stale = gpu.check_accelerate_config(inv)
    assert stale.status == "warning" and "2 GPU(s)" in stale.detail
    cfg.write_text(STALE_ACCELERATE.replace("num_processes: 4", "num_processes: 2"))
    assert gpu.check_accelerate_config(inv).status == "ok"
    cfg.write_text("distributed_type: [unclosed\n")
    assert gpu.check_accelerate_config(inv).status == "warning"
    other = tmp_path / "mine.yaml"
    other.write_text(STALE_ACCELERATE)
    monkeypatch.setenv("ACCELERATE_CONFIG_FILE", str(other))
    assert str(other) in gpu.check_accelerate_config(inv).detail


def test_hub_token_and_endpoint(tmp_path, monkeypatch):
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_ENDPOINT", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    assert accounts.check_hub_token().status == "warning"
    (tmp_path / "token").write_text("hf_fileTokenSecret\n")
    found = accounts.check_hub_token()
    assert found.status == "ok" and "hf_fileTokenSecret" not in found.detail and str(tmp_path) in found.detail

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert accounts.check_hub_endpoint().status == "ok"
    monkeypatch.setenv("HF_ENDPOINT", "https://hf-mirror.com")
    assert "hf-mirror.com" in accounts.check_hub_endpoint().detail
    monkeypatch.setenv("HF_ENDPOINT", "hf-mirror.com")
    bad = accounts.check_hub_endpoint()
    assert bad.status == "error" and "export HF_ENDPOINT=https://" in bad.fix
    monkeypatch.delenv("HF_ENDPOINT")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert accounts.check_hub_endpoint().status == "warning"


def test_wandb_key_sources(tmp_path, monkeypatch):
    for var in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_DISABLED", "WANDB_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    netrc = tmp_path / "netrc"
    monkeypatch.setenv("NETRC", str(netrc))
    assert accounts.check_wandb().status == "warning"
    netrc.write_text("machine api.wandb.ai\n  login user\n  password abc123secret\n")
    netrc.chmod(0o600)
    found = accounts.check_wandb()
    assert found.status == "ok" and "abc123secret" not in found.detail
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert accounts.check_wandb().status == "ok"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert accounts.check_wandb().status == "ok"


def test_disk_and_cpu(tmp_path):
    import shutil

    # thresholds relative to this machine's free space, so a nearly full test machine does not decide it
    free_gib = shutil.disk_usage(tmp_path).free / 2**30
    if free_gib > resources.ERROR_BELOW_GIB:
        assert resources.check_disk(tmp_path, warn_below_gib=resources.ERROR_BELOW_GIB).status == "ok"
    low = resources.check_disk(tmp_path / "future" / "runs", warn_below_gib=1e9)
    assert low.status == "warning" and "HF_HOME" in low.fix and str(tmp_path) in low.detail
    cores = resources.usable_cores()
    assert resources.check_cpu(cores * 4, 1).status == "warning"
    assert resources.check_cpu(1, 1).status == "ok" or cores == 1
    if cores > 1:
        assert "num_workers=" in resources.check_cpu(0, 1).fix


def test_gpu_report_for_inventories_this_machine_cannot_have():
    # The GPU branch formats what torch reported; these inventories are what torch gives on GPU hosts.
    h200 = gpu.GpuInventory(
        torch_version="2.11.0+cu128", cuda_build="12.8", devices=[("NVIDIA H200", 150 * 10**9)] * 2, bf16=True
    )
    check = gpu.check_gpus(h200)
    assert (
        check.status == "ok"
        and "2 x NVIDIA H200 (140 GiB)" in check.detail
        and "bf16 supported" in check.detail
    )
    cpu_build = gpu.check_gpus(gpu.GpuInventory(torch_version="2.11.0+cpu", cuda_build=None))
    assert cpu_build.status in ("warning", "error") and "download.pytorch.org/whl/cu" in cpu_build.fix
    broken = gpu.check_gpus(
        gpu.GpuInventory(torch_version="2.11.0", cuda_build="12.8", problem="CUDA init failed")
    )
    assert broken.status == "error" and "nvidia-smi" in broken.fix


def test_a_crashing_check_becomes_an_error_line():
    from kuavo_cli.doctor.runner import _guard

    def explode():
        raise OSError("permission denied")

    (line,) = _guard("wandb", explode)
    assert line.status == "error" and "OSError: permission denied" in line.detail and line.fix
