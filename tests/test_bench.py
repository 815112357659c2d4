"""`kuavo bench` keeps working: a tiny pipeline run through every variant (real subprocesses), and the
`lerobot` variant is built the way lerobot-train builds its data. The training part's subprocesses
(`lerobot-train`, `kuavo train`) run in tests/test_bench_gpu.py's smoke run. Speed ratios are NOT asserted
here: the benchmark checks its targets, a timed test on a shared machine could not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli_helpers import run_cli
from tests.train_fixtures import TINY_ACT

REPO_ROOT = Path(__file__).resolve().parent.parent
TINY = ["--episodes", "2", "--length", "12", "--size", "64x48", "--batch-size", "2", "--num-workers", "0"]
TINY += ["--batches", "2", "--warmup", "1", "--no-train", "--mode", "gpu-host"]
TINY_PI05 = {"type": "pi05", "image_resolution": [32, 32]}  # resizes: adds the policy-resolution cache


def test_tiny_benchmark_runs_every_pipeline_variant(tmp_path: Path):
    out = tmp_path / "bench"
    result = run_cli("bench", *TINY, "--policy", json.dumps(TINY_PI05), "--out", str(out), "--json")
    assert result.exit_code == 0, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report == json.loads((out / "report.json").read_text())
    assert report["dataset"]["frames"] == 24 and len(report["dataset"]["cameras"]) == 3
    assert report["cache_build"]["frames"] == 72 and report["cache_build"]["resize"] is None
    assert report["cache_build"]["bytes_per_1k_frames"] == round(report["cache_build"]["bytes"] * 1000 / 24)
    assert report["cache_build_policy"]["resize"] == "pi05:resize_with_pad_torch:32x32"

    pipeline = report["pipeline"]["gpu-host"]
    for variant in ("lerobot", "kuavo", "kuavo-cache", "kuavo-cache-policy"):
        run = pipeline["variants"][variant]
        assert run["ok"], run.get("error_tail")
        assert run["samples"] == 4 and run["samples_per_s"] > 0 and run["peak_rss_mb"] > 0
        cpu_ms = run["cpu_ms_per_sample"]  # 0 is possible: 4 samples, CPU clocks tick at 10 ms
        assert run["samples_per_core_s"] == (1000 / cpu_ms if cpu_ms else None)
        # lerobot-train ships uint8 frames too (make_dataset's return_uint8=True); the GPU converts them
        side = [2, 3, 32, 32] if variant == "kuavo-cache-policy" else [2, 3, 48, 64]
        assert run["image_dtype"] == "torch.uint8" and run["image_shape"] == side, variant
    assert set(pipeline["ratios_vs_lerobot"]) == {"kuavo", "kuavo-cache", "kuavo-cache-policy"}
    assert {row["target"] for row in report["targets"]} == {
        f"pipeline {v} (gpu-host)" for v in ("kuavo", "kuavo-cache", "kuavo-cache-policy")
    }
    assert all(isinstance(row["met"], bool) for row in report["targets"]) and "train" not in report


def test_bench_rejects_bad_options(tmp_path: Path):
    bad_size = run_cli("bench", "--size", "big", "--out", str(tmp_path))
    assert bad_size.exit_code == 2 and "--size" in bad_size.stderr
    bad_mode = run_cli("bench", "--mode", "tpu", "--out", str(tmp_path))
    assert bad_mode.exit_code == 2 and "--mode" in bad_mode.stderr
    bad_policy = run_cli("bench", "--policy", "{act", "--out", str(tmp_path))
    assert bad_policy.exit_code == 2 and "--policy" in bad_policy.stderr
    bad_dataset = run_cli("bench", "--dataset", str(tmp_path), "--out", str(tmp_path))
    assert bad_dataset.exit_code == 2 and "no meta/info.json" in bad_dataset.stderr


def test_benchmark_script_is_the_same_command():
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "bench_pipeline.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "--num-workers" in proc.stdout and "lerobot" in proc.stdout


def test_lerobot_variant_is_built_as_lerobot_train_builds_it(synthetic_dataset: Path):
    """lerobot's own make_dataset (uint8 frames), EpisodeAwareSampler and lerobot-train's worker settings."""
    import torch
    from lerobot.datasets import EpisodeAwareSampler

    from kuavo_cli.bench.pipeline import _lerobot_deliver, _lerobot_loader, train_config
    from kuavo_cli.train import lerobot_bridge

    cfg = train_config(synthetic_dataset, TINY_ACT, batch_size=4, num_workers=2, cache_dir=None)
    policy_cfg = lerobot_bridge.make_policy_config(cfg, device="cpu")
    dataset, loader = _lerobot_loader(cfg, policy_cfg, torch.device("cpu"))
    assert dataset._return_uint8 is True  # lerobot-train's make_dataset
    assert isinstance(loader.batch_sampler.sampler, EpisodeAwareSampler)
    assert (loader.prefetch_factor, loader.persistent_workers, loader.num_workers) == (4, True, 2)
    assert loader.multiprocessing_context.get_start_method() == "spawn" and not loader.pin_memory
    assert loader.batch_sampler.drop_last is False
    item = dataset[0]
    camera = dataset.meta.camera_keys[0]
    assert item[camera].dtype == torch.uint8
    batch = _lerobot_deliver({camera: item[camera][None]}, [camera], convert=True)
    assert torch.equal(batch[camera], item[camera][None].to(torch.float32) / 255.0)
