"""Closed loop on real components: expert demos recorded in the Kuavo schema, a real ACT trained on them by
`kuavo train`, scored in the stand-in against the same policy before training (what `kuavo demo` shows). The demos and both
policies are the ones `kuavo demo`'s --help example writes (conftest's `demo_example`, run once per session)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

import kuavo_cli.sim  # noqa: F401  (presets MUJOCO_GL before anything imports mujoco)

STEPS = 300  # what the demo example trains (kuavo demo's default --steps)
SIM_EPISODES = 6


@pytest.fixture(scope="module")
def demo_out(demo_example) -> Path:
    """`kuavo demo`'s --help example (conftest's `demo_example`, shared with tests/test_docs.py): 12 expert
    demos recorded at 32x32, the ACT of `demo_train_overrides` trained STEPS steps, and its step-0 weights."""
    from kuavo_cli.checkpoints import resolve_checkpoint

    result, cwd = demo_example
    assert result.exit_code == 0, result.stdout[-2000:] + result.stderr[-3000:]
    out = cwd / "outputs" / "demo"
    assert resolve_checkpoint(out / "run").step == STEPS, "the demo example must train STEPS steps"
    return out


@pytest.fixture(scope="module")
def demos(demo_out: Path) -> Path:
    return demo_out / "data"


def test_recorded_demos_pass_the_kuavo_schema_check(demos: Path):
    from kuavo_cli.inspect.dataset import inspect_dataset

    info = json.loads((demos / "meta/info.json").read_text())
    assert info["fps"] == 10 and info["robot_type"] == "kuavo4pro" and info["codebase_version"] == "v3.0"
    assert info["total_episodes"] == 12
    report, _ = inspect_dataset(demos)
    problems = [c for c in report["checks"] if c["code"] != "resolution"]  # 32x32 instead of 640x480
    assert problems == [], problems


@pytest.fixture(scope="module")
def runs(demo_out: Path) -> tuple[Path, Path]:
    """(untrained, trained): `save_untrained` and `run_training` on `demo_train_overrides`, as the demo ran them."""
    return demo_out / "untrained", demo_out / "run"


@pytest.mark.slow
def test_trained_policy_scores_higher_in_closed_loop_than_untrained(runs, tmp_path: Path):
    from kuavo_cli.sim.api import evaluate_sim

    untrained, run = runs
    report = evaluate_sim([str(untrained), str(run)], "standin", episodes=SIM_EPISODES, latency="0",
                          out=tmp_path / "eval", console=Console(stderr=True, quiet=True))  # fmt: skip
    before, after = (r["summary"] for r in report["results"])
    print(f"closed loop, {SIM_EPISODES} seeds: untrained {before}, trained {after}")
    assert before["mean_score"] == 0.0 and before["successes"] == 0
    grasps = sum(e["breakdown"]["grasp"] > 0 for e in report["results"][1]["episodes"])
    assert after["mean_score"] >= before["mean_score"] + 10 and grasps >= SIM_EPISODES // 2, after
    assert report["ranking"][0]["label"].startswith("run")
    assert all(e["error"] is None for r in report["results"] for e in r["episodes"])
    assert report["results"][1]["cameras"] == {
        k: [32, 32]
        for k in (
            "observation.images.head_cam_h",
            "observation.images.wrist_cam_l",
            "observation.images.wrist_cam_r",
        )
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_served_policy_scores_what_the_in_process_policy_scores(runs, tmp_path: Path):
    pytest.importorskip("kuavo_cli.serve.dropin_client")
    from kuavo_cli.sim.api import evaluate_sim

    _, run = runs
    port, log = _free_port(), tmp_path / "serve.log"
    with log.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "kuavo_cli", "serve", str(run), "--port", str(port),
                                 "--device", "cpu"], stdout=subprocess.DEVNULL, stderr=fh,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while not re.search(r"ready on tcp://", log.read_text()) and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-2000:]
            time.sleep(0.3)
        report = evaluate_sim([str(run), f"tcp://127.0.0.1:{port}"], "standin", episodes=2, latency="0",
                              out=tmp_path / "eval", console=Console(stderr=True, quiet=True))  # fmt: skip
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    local, served = report["results"]
    assert served["label"] == f"served-127.0.0.1_{port}"
    print(
        "in-process",
        [e["score"] for e in local["episodes"]],
        "served",
        [e["score"] for e in served["episodes"]],
    )
    assert [e["score"] for e in served["episodes"]] == [e["score"] for e in local["episodes"]]
    assert [e["first_frame_sha"] for e in served["episodes"]] == [
        e["first_frame_sha"] for e in local["episodes"]
    ]
