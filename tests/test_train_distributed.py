"""Real multi-process and interrupted runs: `accelerate launch` with 2 CPU processes, signals, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_helpers import run_subprocess
from tests.train_fixtures import read_metrics, read_trace, train_config, write_config

pytestmark = pytest.mark.slow


TWO_PROCESS_STEPS = 8


@pytest.fixture(scope="module")
def two_process_run(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One uninterrupted 2-process CPU run with per-rank traces: checked below, and the reference loss curve
    of the interrupted + resumed run."""
    tmp = tmp_path_factory.mktemp("two")
    run, trace = tmp / "run", tmp / "trace"
    base = train_config(
        synthetic_dataset, run, steps=TWO_PROCESS_STEPS, batch_size=3, eval_freq=4, save_freq=4
    )
    cfg = write_config(tmp / "c.yaml", base)
    result = run_subprocess(
        "train", str(cfg), "--gpus", "2", "--cpu", env={"KUAVO_TRACE_DIR": str(trace)}, timeout=900
    )
    assert result.exit_code == 0, result.stderr[-3000:]
    return {"run": run, "trace": trace, "config": base, "stderr": result.stderr}


def test_two_cpu_processes_shard_once_and_agree(two_process_run: dict):
    run, trace, result_stderr = two_process_run["run"], two_process_run["trace"], two_process_run["stderr"]
    ranks = [read_trace(trace, r) for r in (0, 1)]
    for step in range(1, TWO_PROCESS_STEPS + 1):  # each step, the two ranks consumed disjoint samples
        seen = [next(rec for rec in rank if rec.get("step") == step and "indices" in rec) for rank in ranks]
        assert len(seen[0]["indices"]) == len(seen[1]["indices"]) == 3
        assert set(seen[0]["indices"]).isdisjoint(seen[1]["indices"])
        # ... and drew different random numbers (dropout masks here; diffusion noise and timesteps alike)
        assert seen[0]["next_rand"] != seen[1]["next_rand"], step
    epoch_samples = [i for rank in ranks for rec in rank if "indices" in rec for i in rec["indices"]]
    split = json.loads((run / "split.json").read_text())
    assert split["val_episodes"]  # validation frames never used for training
    checksums = [next(rec["param_checksum"] for rec in rank if "param_checksum" in rec) for rank in ranks]
    assert checksums[0] == pytest.approx(checksums[1], rel=1e-9, abs=1e-9)  # DDP kept the replicas equal
    val = read_metrics(run, "val")
    for step, reported in val.items():  # the reported loss is the mean over all samples of both ranks
        parts = [next(r for r in rank if r.get("step") == step and "val_sum" in r) for rank in ranks]
        expected = sum(p["val_sum"] for p in parts) / sum(p["val_count"] for p in parts)
        assert reported == pytest.approx(expected, rel=1e-6)
        assert all(p["val_count"] > 0 for p in parts)
    assert len(set(epoch_samples)) > 3
    written = {p.name for p in run.iterdir()}
    assert written == {"checkpoints", "metrics.jsonl", "split.json", "train_config.yaml"}  # rank 0 only
    assert (run / "checkpoints" / "last" / "training_state" / "rng_state_rank1.safetensors").exists()
    assert "process(es)" in result_stderr and result_stderr.count("kuavo train act") == 1


def test_two_process_sigterm_resume_matches_and_other_count_refused(two_process_run: dict, tmp_path: Path):
    """SIGTERM to `kuavo train --gpus 2` saves on both ranks; --resume continues the exact 2-process loss
    curve (each rank's own RNG state); --resume --gpus 1 refuses with what changed and how to proceed."""
    reference = read_metrics(two_process_run["run"], "train")
    cut = tmp_path / "cut"
    cfg = write_config(tmp_path / "cut.yaml", {**two_process_run["config"], "output_dir": str(cut)})
    proc = _start(cfg, "--gpus", "2", "--cpu")
    _wait_for_step(cut, 2, proc, timeout=900)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err[-3000:]
    assert "--resume" in err and err.count("training stopped by SIGTERM") == 1  # said once, by rank 0
    stopped_at = int(os.readlink(cut / "checkpoints" / "last"))
    assert 2 <= stopped_at < TWO_PROCESS_STEPS

    saved_config = (cut / "train_config.yaml").read_text()
    one = run_subprocess("train", "--resume", str(cut), "--gpus", "1")
    assert one.exit_code == 2, one.stderr[-2000:]
    assert "num_processes 2 -> 1" in one.stderr and "--gpus 2" in one.stderr and "Traceback" not in one.stderr
    assert (cut / "train_config.yaml").read_text() == saved_config  # refused before touching the run

    resumed = run_subprocess("train", "--resume", str(cut), timeout=900)
    assert resumed.exit_code == 0, resumed.stderr[-3000:]
    continued = read_metrics(cut, "train")
    assert sorted(continued) == list(range(1, TWO_PROCESS_STEPS + 1))
    for step in range(1, TWO_PROCESS_STEPS + 1):
        assert continued[step] == pytest.approx(reference[step], rel=1e-5, abs=1e-6), step


def _start(cfg: Path, *extra: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kuavo_cli", "train", str(cfg), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _wait_for_step(run: Path, step: int, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (run / "metrics.jsonl").exists() and max(read_metrics(run, "train") or {0: 0}) >= step:
            return
        if proc.poll() is not None:
            raise AssertionError(f"training ended early: {proc.stderr.read()[-2000:]}")
        time.sleep(0.2)
    raise AssertionError("timed out waiting for training progress")


def test_sigterm_saves_and_resume_matches_uninterrupted(synthetic_dataset: Path, tmp_path: Path):
    steps = 14
    base = train_config(synthetic_dataset, tmp_path / "full", steps=steps, eval_freq=100, save_freq=100)
    full = run_subprocess("train", str(write_config(tmp_path / "full.yaml", base)))
    assert full.exit_code == 0, full.stderr[-2000:]
    reference = read_metrics(tmp_path / "full", "train")

    cut = {**base, "output_dir": str(tmp_path / "cut")}
    proc = _start(write_config(tmp_path / "cut.yaml", cut))
    _wait_for_step(tmp_path / "cut", 4, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err[-2000:]
    assert "--resume" in err and "Traceback" not in err
    stopped_at = int(os.readlink(tmp_path / "cut" / "checkpoints" / "last"))
    assert 4 <= stopped_at < steps

    resumed = run_subprocess("train", "--resume", str(tmp_path / "cut"))
    assert resumed.exit_code == 0, resumed.stderr[-2000:]
    continued = read_metrics(tmp_path / "cut", "train")
    assert sorted(continued) == list(range(1, steps + 1))
    for step in range(1, steps + 1):
        assert continued[step] == pytest.approx(reference[step], rel=1e-5, abs=1e-6), step


def test_kill_during_checkpoint_write_keeps_previous(synthetic_dataset: Path, tmp_path: Path):
    run = tmp_path / "run"
    cfg = write_config(
        tmp_path / "c.yaml", train_config(synthetic_dataset, run, steps=6, save_freq=2, eval_freq=100)
    )
    result = run_subprocess("train", str(cfg), env={"KUAVO_TEST_DIE_DURING_SAVE": "000004"})
    assert result.exit_code == 137
    ckpts = run / "checkpoints"
    assert os.readlink(ckpts / "last") == "000002"
    assert (ckpts / "000002" / "pretrained_model" / "model.safetensors").exists()
    assert not (ckpts / "000004").exists()
    resumed = run_subprocess("train", "--resume", str(run))
    assert resumed.exit_code == 0, resumed.stderr[-2000:]
    assert os.readlink(ckpts / "last") == "000006"
    assert not list(ckpts.glob(".tmp-*"))
