"""`kuavo bench` keeps working: a tiny run through every part (real subprocesses: the pipeline variants,
`lerobot-train`, `kuavo train`). Speed ratios are NOT asserted here: the benchmark checks its targets, a
timed test on a shared machine could not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli_helpers import run_cli
from tests.train_fixtures import TINY_ACT

REPO_ROOT = Path(__file__).resolve().parent.parent
TINY = ["--episodes", "2", "--length", "12", "--size", "64x48", "--batch-size", "2", "--num-workers", "1"]
TINY += ["--batches", "2", "--warmup", "1", "--steps", "4", "--log-freq", "2", "--mode", "cpu"]


def test_tiny_benchmark_runs_every_part(tmp_path: Path):
    out = tmp_path / "bench"
    result = run_cli("bench", *TINY, "--policy", json.dumps(TINY_ACT), "--out", str(out), "--json")
    assert result.exit_code == 0, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report == json.loads((out / "report.json").read_text())
    assert report["dataset"]["frames"] == 24 and len(report["dataset"]["cameras"]) == 3
    assert report["cache_build"]["frames"] == 72

    pipeline = report["pipeline"]["cpu"]
    for variant in ("lerobot", "kuavo", "kuavo-cache"):
        run = pipeline["variants"][variant]
        assert run["ok"], run.get("error_tail")
        assert run["samples"] == 4 and run["samples_per_s"] > 0 and run["peak_rss_mb"] > 0
        assert run["image_dtype"] == "torch.float32" and run["image_shape"] == [2, 3, 48, 64]
    assert set(pipeline["ratios_vs_lerobot"]) == {"kuavo", "kuavo-cache"}

    runs = report["train"]["runs"]
    for tool in ("lerobot-train", "kuavo", "kuavo-cache"):
        assert runs[tool]["ok"], runs[tool].get("error_tail")
        assert runs[tool]["samples_per_s"] > 0 and runs[tool]["windows"] == 2
        assert runs[tool]["peak_pss_mb"] > 0
    ratios = report["train"]["ratios_vs_lerobot"]["kuavo"]
    assert ratios["samples_per_s"] > 0 and ratios["peak_pss"] > 0
    assert {row["target"] for row in report["targets"]} >= {"train kuavo", "pipeline kuavo-cache (cpu)"}
    assert all(isinstance(row["met"], bool) for row in report["targets"])
    assert report["options"]["policy"]["dim_model"] == TINY_ACT["dim_model"]


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

    from kuavo_cli.data.bench_pipeline import _lerobot_deliver, _lerobot_loader, train_config
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
