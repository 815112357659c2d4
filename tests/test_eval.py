"""`kuavo eval`: real checkpoints written by `lerobot-train`, replayed on the synthetic Kuavo dataset."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from kuavo_cli.data.schema import ACTION_NAMES_CLAW
from kuavo_cli.errors import UsageError
from kuavo_cli.evaluate import metrics
from kuavo_cli.evaluate.latency import latency_summary
from kuavo_cli.evaluate.sources import parse_episodes
from tests.cli_helpers import run_cli
from tests.lerobot_ckpt import TINY_ACT_ARGS, train_with_lerobot

# Both ACT runs train on episodes 0-3 only; lerobot records that in train_config.json, so `kuavo eval`
# defaults to the two episodes they never saw.
TRAIN_EPISODES = ["--dataset.episodes=[0,1,2,3]"]
HELD_OUT = [4, 5]
TRAIN_STEPS = 150  # the tiny ACT then fits its episodes well (MSE ~0.04 vs ~0.3 fresh); ~30 s on 2 cores
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@contextlib.contextmanager
def one_thread_env() -> Iterator[None]:
    """On 2 shared cores, OpenMP threads that spin-wait on each other make training 4x slower."""
    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="module")
def act_runs(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("eval_runs")
    with one_thread_env():
        fresh = train_with_lerobot(synthetic_dataset, base / "fresh", steps=1, extra_args=TRAIN_EPISODES)
        trained = train_with_lerobot(
            synthetic_dataset,
            base / "trained",
            steps=TRAIN_STEPS,
            policy_args=[*TINY_ACT_ARGS, "--policy.optimizer_lr=1e-3"],
            extra_args=TRAIN_EPISODES,
        )
    return {"fresh": fresh, "trained": trained}


# --- metric functions on hand-made arrays -------------------------------------------------------------


def test_mse_mae_and_gripper_agreement_match_hand_computation() -> None:
    rec = np.zeros((2, 16))
    pred = np.zeros((2, 16))
    pred[0, 0] = 0.2  # arm joint: squared error 0.04
    pred[1, 3] = -0.4  # arm joint: squared error 0.16
    rec[:, 7] = [0.9, 0.1]  # left gripper: closed, open
    pred[:, 7] = [0.7, 0.6]  # errors 0.2 and 0.5; second frame flips to closed
    rec[:, 15] = [0.2, 0.8]
    pred[:, 15] = [0.2, 0.8]
    summary = metrics.summarize(pred, rec, (7, 15))
    assert summary["mse"] == pytest.approx((0.04 + 0.16 + 0.04 + 0.25) / 32)
    assert summary["mae"] == pytest.approx((0.2 + 0.4 + 0.2 + 0.5) / 32)
    assert summary["arm_mse"] == pytest.approx((0.04 + 0.16) / 28)
    assert summary["gripper_mae"] == pytest.approx((0.2 + 0.5) / 4)
    assert summary["gripper_agreement"] == pytest.approx(3 / 4)
    rows = metrics.per_joint(pred, rec, ACTION_NAMES_CLAW, (7, 15))
    assert rows[3]["name"] == "zarm_l4_link" and rows[3]["mse"] == pytest.approx(0.16 / 2)
    assert rows[7]["unit"] == "gripper" and rows[7]["mae"] == pytest.approx(0.35)


def test_error_vs_time_and_by_chunk_position() -> None:
    rec = np.zeros((4, 1))
    ep = metrics.EpisodeResult(0, np.array([[1.0], [2.0], [3.0], [4.0]]), rec, np.array([0, 1, 0, 1]))
    evt = metrics.error_vs_time([ep], n_bins=2)
    assert evt["mse"] == pytest.approx([(1 + 4) / 2, (9 + 16) / 2])
    assert evt["n_frames"] == [2, 2]
    by_k = metrics.error_by_chunk_position([ep])
    assert by_k == [
        {"k": 0, "mse": pytest.approx(5.0), "n_frames": 2},
        {"k": 1, "mse": pytest.approx(10.0), "n_frames": 2},
    ]
    other = metrics.EpisodeResult(1, np.ones((2, 1)), np.zeros((2, 1)), np.array([0, 1]))
    assert metrics.overall([ep, other], ())["mse"] == pytest.approx((1 + 4 + 9 + 16 + 1 + 1) / 6)


def test_latency_summary_separates_model_calls_from_queue_pops() -> None:
    ticks = [500.0, 40.0, 1.0, 2.0, 60.0, 1.0]
    ran = [True, True, False, False, True, False]
    lat = latency_summary(ticks, ran, fps=10)
    assert lat["first_call_ms"] == 500.0
    assert lat["n"] == 5 and lat["model_calls"]["n"] == 2 and lat["queue_pops"]["n"] == 3
    assert lat["model_calls"]["p50_ms"] == pytest.approx(50.0)
    assert lat["p50_ms"] == pytest.approx(2.0)
    assert lat["realtime"] is True and lat["control_rate_hz_p99"] > 10
    slow = latency_summary([1.0, 150.0, 150.0], [True, True, True], fps=10)
    assert slow["realtime"] is False


def test_parse_episodes() -> None:
    assert parse_episodes("0,3,5-7") == [0, 3, 5, 6, 7]
    assert parse_episodes(" 2 , 2 ") == [2]
    for bad in ("a", "3-1", ","):
        with pytest.raises(UsageError):
            parse_episodes(bad)


# --- real checkpoints ---------------------------------------------------------------------------------


def _png_ok(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 2000 and path.read_bytes()[:8] == PNG_MAGIC


def test_trained_act_beats_fresh_one(act_runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    trained_run, fresh_run = str(act_runs["trained"]), str(act_runs["fresh"])
    res = run_cli("eval", trained_run, fresh_run, "--episodes", "0-3", "--out", str(out), "--json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    ranked = {row["label"].split("@")[0]: row for row in doc["ranking"]}
    trained, fresh = ranked["trained"], ranked["fresh"]
    assert trained["rank"] == 1 and fresh["rank"] == 2
    # Measured: ~0.04 vs ~0.3. A replay that fed the wrong frames or misaligned actions would lose this.
    assert trained["mse"] < 0.4 * fresh["mse"], (trained["mse"], fresh["mse"])
    assert doc["warnings"] == []  # same episodes for both

    reports = {r["checkpoint"]["label"].split("@")[0]: r for r in doc["reports"]}
    rep = reports["trained"]
    assert rep["episodes"] == [0, 1, 2, 3] and rep["episodes_source"] == "--episodes"
    assert "[0, 1, 2, 3] were used to train" in rep["warnings"][0]  # the run records what it trained on
    assert rep["checkpoint"]["step"] == TRAIN_STEPS and rep["checkpoint"]["policy_type"] == "act"
    assert rep["overall"]["n_frames"] == 160 and len(rep["per_episode"]) == 4
    assert [j["name"] for j in rep["per_joint"]] == ACTION_NAMES_CLAW
    assert rep["overall"]["gripper_agreement"] > reports["fresh"]["overall"]["gripper_agreement"]
    # chunk_size = n_action_steps = 5: the model runs every 5th tick, so k = 0..4 equally often.
    assert [(r["k"], r["n_frames"]) for r in rep["error_by_chunk_position"]] == [(k, 32) for k in range(5)]
    assert len(rep["error_vs_time"]["mse"]) == 10 and sum(rep["error_vs_time"]["n_frames"]) == 160

    lat = rep["latency"]
    assert lat["first_call_ms"] > 0 and 0 < lat["p50_ms"] <= lat["p95_ms"] <= lat["p99_ms"]
    assert lat["model_calls"]["n"] == 31 and lat["queue_pops"]["n"] == 128  # the very first call is apart
    assert lat["model_calls"]["p50_ms"] > lat["queue_pops"]["p50_ms"]
    assert lat["recording_hz"] == 10 and lat["control_rate_hz_p99"] > 0
    assert rep["memory"]["peak_rss_mb"] > 50

    trained_dir = Path(rep["out_dir"])
    for name in ("trajectories_best.png", "trajectories_worst.png", "joint_errors.png", "error_vs_time.png"):
        assert _png_ok(trained_dir / name), name
    assert json.loads((trained_dir / "report.json").read_text())["overall"] == rep["overall"]
    assert "| zarm_l1_link |" in (trained_dir / "report.md").read_text()
    assert json.loads((out / "comparison.json").read_text())["ranking"][0]["label"] == trained["label"]
    assert _png_ok(out / "comparison.png") and "| 1 | trained@" in (out / "comparison.md").read_text()


def test_default_episodes_are_the_ones_lerobot_train_held_out(
    act_runs: dict[str, Path], tmp_path: Path
) -> None:
    res = run_cli(
        "eval", str(act_runs["trained"]), str(act_runs["fresh"]), "--out", str(tmp_path), "--no-plots"
    )
    assert res.exit_code == 0, res.stderr
    assert "Ranking" in res.stdout and "per episode" in res.stdout
    doc = json.loads((tmp_path / "comparison.json").read_text())
    assert doc["ranking"][0]["label"].startswith("trained@")  # still ahead on unseen episodes (~0.2 vs ~0.3)
    for row in doc["ranking"]:
        rep = json.loads(Path(row["report"]).read_text())
        assert rep["episodes"] == HELD_OUT and "not in lerobot-train" in rep["episodes_source"]


def test_diffusion_checkpoint_evaluates(
    lerobot_diffusion_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a policy folder outside any run reports to ./outputs/eval/<name>
    run = lerobot_diffusion_run  # conftest's shared 2-step `lerobot-train` Diffusion (TINY_DIFFUSION_ARGS)
    policy_dir = tmp_path / "my_diffusion"
    shutil.copytree(run / "checkpoints" / "last" / "pretrained_model", policy_dir)
    res = run_cli("eval", str(policy_dir), "--episodes", "5", "--no-plots")
    assert res.exit_code == 0, res.stderr
    assert "diffusion" in res.stdout and "per episode" in res.stdout
    rep = json.loads((tmp_path / "outputs" / "eval" / "my_diffusion" / "report.json").read_text())
    assert rep["episodes"] == [5] and rep["overall"]["n_frames"] == 40
    assert [r["k"] for r in rep["error_by_chunk_position"]] == [0, 1, 2, 3]  # n_action_steps = 4
    assert rep["latency"]["model_calls"]["n"] == 9  # 10 chunks for 40 frames, minus the first call
    assert rep["plots"] == [] and rep["policy"]["n_obs_steps"] == 2


def test_split_json_picks_the_held_out_episodes_and_feeds_the_demo(
    act_runs: dict[str, Path], synthetic_dataset: Path, tmp_path: Path
) -> None:
    from kuavo_cli.evaluate.api import run_demo_eval

    run = tmp_path / "run"
    shutil.copytree(act_runs["trained"], run, symlinks=True)
    split = {"train_episodes": [0, 1, 2, 3], "val_episodes": [5], "dataset_root": str(synthetic_dataset),
             "repo_id": "kuavo/synthetic"}  # fmt: skip
    (run / "split.json").write_text(json.dumps(split))
    res = run_cli("eval", str(run), "--json", "--no-plots")
    assert res.exit_code == 0, res.stderr
    rep = json.loads(res.stdout)
    assert rep["episodes"] == [5] and "split.json" in rep["episodes_source"]
    assert Path(rep["out_dir"]) == run / "eval" / f"{TRAIN_STEPS:06d}"
    assert (run / "eval" / f"{TRAIN_STEPS:06d}" / "report.md").exists()

    summary = run_demo_eval(run, synthetic_dataset, tmp_path / "demo_eval")
    assert summary["episodes"] == [5] and summary["mse"] == pytest.approx(rep["overall"]["mse"])
    assert _png_ok(tmp_path / "demo_eval" / "trajectories_best.png")


def test_other_image_size_is_a_feature_mismatch(act_runs: dict[str, Path], tmp_path: Path) -> None:
    from kuavo_cli.data.synthetic import SyntheticSpec, make_synthetic_dataset

    other = make_synthetic_dataset(
        tmp_path / "small", SyntheticSpec(num_episodes=1, episode_length=4, image_size=(32, 32))
    )
    res = run_cli("eval", str(act_runs["trained"]), "--dataset", str(other))
    assert res.exit_code == 2
    assert "observation.images.head_cam_h" in res.stderr and "(3, 48, 64)" in res.stderr
    assert "(3, 32, 32)" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_state_dim_14_is_a_feature_mismatch(act_runs: dict[str, Path], tmp_path: Path) -> None:
    from lerobot.datasets import LeRobotDataset

    features = {
        "observation.state": {"dtype": "float32", "shape": (14,), "names": None},
        "action": {"dtype": "float32", "shape": (14,), "names": None},
    }
    ds = LeRobotDataset.create(
        "kuavo/arms_only", fps=10, features=features, root=tmp_path / "arms", use_videos=False
    )
    for _ in range(3):
        ds.add_frame(
            {"observation.state": np.zeros(14, np.float32), "action": np.zeros(14, np.float32), "task": "t"}
        )
    ds.save_episode()
    ds.finalize()
    res = run_cli("eval", str(act_runs["trained"]), "--dataset", str(tmp_path / "arms"))
    assert res.exit_code == 2
    assert "observation.state" in res.stderr and "(16,)" in res.stderr and "(14,)" in res.stderr


def test_bad_inputs_exit_2(act_runs: dict[str, Path], tmp_path: Path) -> None:
    import torch

    res = run_cli("eval", str(tmp_path / "nope"))
    assert res.exit_code == 2 and "does not exist" in res.stderr
    res = run_cli("eval", str(act_runs["trained"]), "--episodes", "7")
    assert res.exit_code == 2 and "episode" in res.stderr and "6" in res.stderr
    res = run_cli("eval", str(act_runs["trained"]), "--dataset", str(tmp_path))
    assert res.exit_code == 2 and "meta/info.json" in res.stderr
    if not torch.cuda.is_available():
        res = run_cli("eval", str(act_runs["trained"]), "--device", "cuda")
        assert res.exit_code == 2 and "CUDA" in res.stderr


def test_run_folder_from_kuavo_train_uses_its_split_and_best(
    kuavo_act_run: Path, synthetic_dataset: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(
        kuavo_act_run, run, symlinks=True
    )  # conftest's shared `kuavo train` run (4 steps, saves 2, 4)
    split = json.loads((run / "split.json").read_text())
    best_step = int((run / "checkpoints" / "best").resolve().name)

    res = run_cli("eval", str(run), "--json", "--no-plots")
    assert res.exit_code == 0, res.stderr
    rep = json.loads(res.stdout)
    assert rep["episodes"] == sorted(split["val_episodes"]) and "split.json" in rep["episodes_source"]
    assert (
        rep["checkpoint"]["step"] == best_step and "/checkpoints/best/" in rep["checkpoint"]["pretrained_dir"]
    )
    assert rep["dataset"]["root"] == str(synthetic_dataset.resolve()) and rep["warnings"] == []
    assert (run / "eval" / f"{best_step:06d}" / "report.json").exists()


def test_lerobot_eval_split_is_rebuilt_with_lerobots_rule(act_runs: dict[str, Path], tmp_path: Path) -> None:
    from lerobot.datasets import LeRobotDatasetMetadata

    from kuavo_cli.checkpoints import resolve_checkpoint
    from kuavo_cli.evaluate.sources import choose_episodes, resolve_dataset

    run = tmp_path / "run"
    shutil.copytree(act_runs["fresh"], run, symlinks=True)
    cfg_path = run / "checkpoints" / "last" / "pretrained_model" / "train_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["dataset"].update(
        episodes=None, eval_split=0.34
    )  # as `lerobot-train --dataset.eval_split=0.34` writes
    cfg_path.write_text(json.dumps(cfg))
    ref = resolve_checkpoint(run)
    choice = resolve_dataset(ref, None)
    meta = LeRobotDatasetMetadata(choice.repo_id, root=choice.root)
    picked = choose_episodes(ref, choice, meta, None)
    assert (
        picked.episodes == [3, 4, 5] and "eval_split=0.34" in picked.source
    )  # last ceil(6 * 0.34) of the task
    assert picked.warnings == []

    cfg["dataset"].update(eval_split=0.0)  # trained on everything: nothing is held out
    cfg_path.write_text(json.dumps(cfg))
    picked = choose_episodes(ref, choice, meta, None)
    assert picked.episodes == list(range(6)) and picked.source == "all episodes"
    assert "may include training episodes" in picked.warnings[0]
