"""benchmarks/bench_gpu.py: the tiny `--smoke` run goes through every step on CPU (real dataset, real
`lerobot-train` and `kuavo train` subprocesses, real torchcodec decoding) and writes the report; the CUDA
paths are argument-checked here (no GPU in CI): the refusal without CUDA, the bf16/cuda configs both tools
get, and the GPU decoder call."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "benchmarks" / "bench_gpu.py"


def _script():
    spec = importlib.util.spec_from_file_location("bench_gpu_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_smoke_run_writes_the_full_report(tmp_path: Path):
    out = tmp_path / "gpu"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--policy", "act", "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=600, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report == json.loads((out / "report-gpu.json").read_text())
    assert report["device"] == "cpu" and report["options"]["smoke"] is True
    assert report["decode"]["cpu"]["frames_per_s"] > 0
    assert report["decode"]["cuda"] == {"skipped": "no CUDA device"}
    [entry] = report["results"]
    assert (entry["policy"], entry["batch_size"]) == ("act", 2)
    for tool in ("lerobot-train", "kuavo"):
        run = entry["runs"][tool]
        assert run["ok"], run.get("error_tail")
        assert run["samples_per_s"] > 0 and run["step_s"] == pytest.approx(2 / run["samples_per_s"], rel=1e-3)
        assert 0 <= run["data_wait_fraction"] <= 1 and run["windows"] == 2 and run["peak_pss_mb"] > 0
    assert entry["ratios_vs_lerobot"]["kuavo"]["samples_per_s"] > 0
    assert [row["target"] for row in report["targets"]] == ["act b2 kuavo samples/s x lerobot-train"]


def test_without_cuda_the_full_run_is_refused_clearly(tmp_path: Path, capsys: pytest.CaptureFixture):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    script = _script()
    assert script.main(["--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "CUDA" in err and "--smoke" in err and "Traceback" not in err
    assert script.main(["--smoke", "--policy", "vqbet", "--out", str(tmp_path / "x")]) == 2
    assert "--policy 'vqbet'" in capsys.readouterr().err
    assert script.main(["--smoke", "--tool", "kuavo", "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()  # refused before writing anything


def test_cuda_configs_of_both_tools_are_valid():
    """What the GPU run hands each tool: bf16 on cuda, lerobot's default ACT / Diffusion without weights."""
    from lerobot.configs.policies import PreTrainedConfig

    from kuavo_cli.bench.api import BenchOptions
    from kuavo_cli.bench.gpu import GPU_POLICIES
    from kuavo_cli.bench.training import kuavo_config, lerobot_command
    from kuavo_cli.config.models import TrainConfig

    for name, policy in GPU_POLICIES.items():
        opts = BenchOptions(policy=dict(policy), batch_size=32, num_workers=8, train_steps=30, log_freq=10)
        section = kuavo_config(Path("/d"), policy, opts, Path("/o"), True, False)
        cfg = TrainConfig.model_validate(section)  # lerobot itself falls back to cpu without CUDA
        assert cfg.mixed_precision == "bf16" and not cfg.cpu and section["policy"]["device"] == "cuda"
        cmd = lerobot_command(Path("/d"), policy, opts, Path("/o"), True)
        assert "--policy.device=cuda" in cmd and "--batch_size=32" in cmd and "--num_workers=8" in cmd
        fields = {
            a.split("=")[0][len("--policy.") :]: a.split("=", 1)[1] for a in cmd if a.startswith("--policy.")
        }
        assert fields["type"] == name and fields["pretrained_backbone_weights"] == "null"
        PreTrainedConfig.get_choice_class(name)(pretrained_backbone_weights=None)  # lerobot accepts it


def test_gpu_decoder_call_reports_why_it_is_unavailable(synthetic_dataset: Path):
    """The cuda branch really calls torchcodec with device='cuda'; without a GPU (or with a CPU-only
    torchcodec build) it records the reason instead of failing the benchmark."""
    import torch

    from kuavo_cli.bench.gpu import decode_bench

    result = decode_bench(synthetic_dataset, frames=4, cuda=True)
    assert result["cpu"]["frames"] == 4 and result["cpu"]["frames_per_s"] > 0
    if not torch.cuda.is_available():
        assert set(result["cuda"]) == {"unavailable"} and result["cuda"]["unavailable"]
