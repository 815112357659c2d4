"""`kuavo convert`: real ROS1 bags (written with rosbags) -> a LeRobot v3.0 dataset, checked value by value.

Expected values come from an independent brute-force reading of the alignment rule in
shared/docs/kuavo-data-format.md §2 (argmin over every message) and the fixture's ground truth.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from kuavo_cli.convert.align import nearest_indices, select_stamps
from kuavo_cli.convert.config import ConvertConfig
from kuavo_cli.data.schema import ACTION_NAMES_DEXHAND, CAMERA_KEYS, DEPTH_KEYS, JOINT_LIMITS, STATE_NAMES
from tests.cli_helpers import run_cli
from tests.rosbag_fixtures import (
    CAMERA_TOPICS,
    DEPTH_FAR_MM,
    DEPTH_TOPICS,
    BagSpec,
    BagTruth,
    arm_traj_deg,
    depth_level,
    gripper_fraction,
    gripper_topics,
    joint_q,
    make_truncated,
    make_unindexed,
    palette_index,
    write_bag,
)

SIZE = "64x48"
MAIN_EPISODES = ["a_rq2f85.bag", "b_legacy.bag", "c_claw.bag", "c_synced.bag"]
LOW = np.array([lo for lo, _ in JOINT_LIMITS])
HIGH = np.array([hi for _, hi in JOINT_LIMITS])


# ---- an independent reading of the spec ---------------------------------------------------------------------
def expected_selection(
    truth: BagTruth, drop: int = 10, jump: int = 3, depth: bool = True, sides: str = "hlr"
):
    """(stamps, {topic: selected message index per frame}) by brute force, as doc §2 describes it."""
    order = []
    for side in "hlr":
        order.append(CAMERA_TOPICS[{"h": "head_cam_h", "l": "wrist_cam_l", "r": "wrist_cam_r"}[side]])
        order.append(DEPTH_TOPICS[{"h": "depth_h", "l": "depth_l", "r": "depth_r"}[side]])
    cams = [
        t for t in order
        if any(t.startswith(f"/cam_{s}/") for s in sides) and (depth or "depth" not in t) and t in truth.times
    ]  # fmt: skip
    main = max(cams, key=lambda t: (len(truth.times[t]), -cams.index(t)))
    ts = truth.times[main]
    kept = list(ts[drop:-drop] if drop else ts)[::jump]
    min_end = min(
        int(t[-1]) for topic, t in truth.times.items() if len(t) and (topic in cams or "cam" not in topic)
    )
    stamps = [s for s in kept if s < min_end]
    sel = {topic: [int(np.argmin(np.abs(t - s))) for s in stamps] for topic, t in truth.times.items()}
    return stamps, sel


def expected_arrays(truth: BagTruth, sel: dict) -> tuple[np.ndarray, np.ndarray]:
    state_topic, cmd_topic = gripper_topics(truth.spec.gripper)
    states, actions = [], []
    for i in range(len(sel["/sensors_data_raw"])):
        q = joint_q(sel["/sensors_data_raw"][i])
        gs = [gripper_fraction(sel[state_topic][i], side, 0) for side in (0, 1)]
        gc = [gripper_fraction(sel[cmd_topic][i], side, 3) for side in (0, 1)]
        a = np.deg2rad(arm_traj_deg(sel[truth.spec.arm_traj_topic][i]))
        states.append([*q[12:19], gs[0], *q[19:26], gs[1]])
        actions.append(np.clip([*a[:7], gc[0], *a[7:14], gc[1]], LOW, HIGH))
    return np.array(states), np.array(actions)


def episode_arrays(root: Path, episode: int) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    df = pd.concat(pd.read_parquet(p) for p in sorted((root / "data").rglob("*.parquet")))
    ep = df[df["episode_index"] == episode].sort_values("frame_index")
    return np.stack(ep["observation.state"].to_numpy()), np.stack(ep["action"].to_numpy())


# ---- fixtures -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bag_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, BagTruth]]:
    """Good bags of the three gripper variants plus every kind of broken bag, in one folder."""
    folder = tmp_path_factory.mktemp("bags")
    truths = {
        "a_rq2f85": write_bag(folder / "a_rq2f85.bag", BagSpec(gripper="rq2f85")),
        # Older simulator messages, and an arm-target stream that stops 1.2 s early: min_end cuts frames.
        "b_legacy": write_bag(
            folder / "b_legacy.bag",
            BagSpec(gripper="rq2f85_legacy", end_early={"/kuavo_arm_traj": 1.2}),
        ),
        "c_claw": write_bag(folder / "c_claw.bag", BagSpec(gripper="claw", seconds=3.0)),
        # /kuavo_arm_traj_synced replaces /kuavo_arm_traj when present (its decoy holds other values).
        "c_synced": write_bag(
            folder / "c_synced.bag",
            BagSpec(
                gripper="claw", seconds=3.0, arm_traj_topic="/kuavo_arm_traj_synced", plain_traj_decoy=True
            ),
        ),
        "d_dexhand": write_bag(folder / "d_dexhand.bag", BagSpec(gripper="dexhand", seconds=3.0)),
        "f_no_traj": write_bag(folder / "f_no_traj.bag", BagSpec(seconds=2.0, omit=("/kuavo_arm_traj",))),
        "g_short": write_bag(folder / "g_short.bag", BagSpec(seconds=0.6)),
    }
    make_truncated(truths["c_claw"].path, folder / "e_truncated.bag")
    make_unindexed(truths["c_claw"].path, folder / "e_unindexed.bag")
    return folder, truths


@pytest.fixture(scope="module")
def converted(bag_dir, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The folder converted with the defaults (depth on), 2 worker processes, through the real CLI."""
    folder, _ = bag_dir
    out = tmp_path_factory.mktemp("out") / "dataset"
    result = run_cli(
        "convert", str(folder), "--out", str(out), "--size", SIZE, "--workers", "2",
        "--task-description", "Sort the toys", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return out, json.loads(result.stdout)


# ---- alignment rule (pure) ----------------------------------------------------------------------------------
def test_select_stamps_drop_zero_means_no_drop_and_min_end_is_strict():
    ts = np.arange(0, 100, 10)
    al = select_stamps(ts, drop=0, jump=3, topic_last_times=[1000])
    assert al.stamps.tolist() == [0, 30, 60, 90]  # the official [0:-0] slice would be empty
    al = select_stamps(ts, drop=2, jump=2, topic_last_times=[60, 500])
    assert al.decimated == 3 and al.stamps.tolist() == [20, 40]  # 60 is not < min_end
    assert al.cut_by_min_end == 1


def test_nearest_matches_argmin_with_ties_to_earlier():
    rng = np.random.default_rng(0)
    times = np.sort(rng.integers(0, 1000, 200))
    times[50:53] = times[50]  # repeated stamps: argmin returns the first
    stamps = np.sort(rng.integers(-50, 1100, 300))
    stamps[:3] = [times[10] + (times[11] - times[10]) // 2, times[50], times[-1] + 7]  # tie, dup, past end
    want = [int(np.argmin(np.abs(times - s))) for s in stamps]
    assert nearest_indices(times, stamps).tolist() == want


def test_config_model_rejects_bad_options():
    assert ConvertConfig().jump == 3 and ConvertConfig().image_hw == (480, 640)
    for bad in ({"size": "640"}, {"fps": 40}, {"arms": "three"}, {"gripper": "hand"}, {"unknown": 1}):
        with pytest.raises(ValueError):
            ConvertConfig(**bad)


# ---- the converted dataset ----------------------------------------------------------------------------------
def test_summary_lists_converted_and_skipped_with_reasons(converted):
    _, summary = converted
    assert [c["bag"] for c in summary["converted"]] == MAIN_EPISODES
    reasons = {s["bag"]: s["reason"] for s in summary["skipped"]}
    assert "dexhand action names" in reasons["d_dexhand.bag"]
    assert "truncated" in reasons["e_truncated.bag"]
    assert "not indexed" in reasons["e_unindexed.bag"] and "reindex" in reasons["e_unindexed.bag"]
    assert "missing topic /kuavo_arm_traj" in reasons["f_no_traj.bag"]
    assert "too short" in reasons["g_short.bag"]
    assert summary["written"] and summary["workers"] == 2 and summary["frames_per_s_per_worker"] > 0


def test_dataset_layout_features_and_provenance(converted):
    out, _ = converted
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 10 and info["robot_type"] == "kuavo4pro"
    feats = info["features"]
    assert list(feats)[:8] == ["observation.state", "action", *CAMERA_KEYS, *DEPTH_KEYS]
    assert feats["observation.state"]["names"]["state_names"] == STATE_NAMES
    for key in (*CAMERA_KEYS, *DEPTH_KEYS):
        assert feats[key]["dtype"] == "video" and feats[key]["shape"] == [3, 48, 64]
        assert feats[key]["info"]["video.codec"] == "av1"
    assert not list(out.parent.glob(".*kuavo-convert"))  # staging removed after success
    prov = json.loads((out / "meta" / "kuavo_provenance.json").read_text())
    eps = prov["episodes"]
    assert [e["source_bag"] for e in eps] == MAIN_EPISODES
    assert (
        eps[3]["arm_action_topic"] == "/kuavo_arm_traj_synced"
        and eps[0]["arm_action_topic"] == "/kuavo_arm_traj"
    )
    assert [e["gripper_variant"] for e in eps] == [
        "rq2f85/JointState",
        "rq2f85/Rq2f85ClawState+Rq2f85ClawCmd",
        "claw/lejuClawState+lejuClawCommand",
        "claw/lejuClawState+lejuClawCommand",
    ]
    assert eps[0]["frames_dropped"]["start"] == 10 and eps[0]["frames_dropped"]["end"] == 10
    assert eps[1]["frames_dropped"]["after_min_end"] > 0
    assert eps[0]["message_types"]["/sensors_data_raw"] == "kuavo_msgs/msg/sensorsData"
    assert {s["source_bag"] for s in prov["skipped"]} >= {"e_truncated.bag", "g_short.bag"}


def test_frame_counts_and_values_follow_the_alignment_rule(converted, bag_dir):
    out, summary = converted
    _, truths = bag_dir
    for episode, name in enumerate(["a_rq2f85", "b_legacy", "c_claw", "c_synced"]):
        stamps, sel = expected_selection(truths[name])
        assert summary["converted"][episode]["frames"] == len(stamps)
        state, action = episode_arrays(out, episode)
        want_state, want_action = expected_arrays(truths[name], sel)
        assert state.shape == (len(stamps), 16)
        np.testing.assert_allclose(state, want_state, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(action, want_action, atol=1e-5, err_msg=name)
    # Legacy bag: its arm targets stop 1.2 s early, so fewer frames than the same-length JointState bag.
    assert summary["converted"][1]["frames"] < summary["converted"][0]["frames"]


def test_units_and_clipping_at_chosen_frames(converted, bag_dir):
    out, _ = converted
    _, truths = bag_dir
    _, sel = expected_selection(truths["a_rq2f85"])
    state, action = episode_arrays(out, 0)
    i = 5
    traj = sel["/kuavo_arm_traj"][i]
    # degrees -> radians on an unclipped joint (left shoulder 1: -20 deg + 0.5 deg per message)
    assert action[i, 0] == pytest.approx(np.deg2rad(-20 + 0.5 * traj), abs=1e-6)
    # the left elbow target is positive degrees; its limit is [-2.618, 0] rad: clipped to 0
    assert arm_traj_deg(traj)[3] > 0 and action[i, 3] == 0.0
    assert np.all(action >= LOW - 1e-6) and np.all(action <= HIGH + 1e-6)
    # grippers: state /0.8, command /255 (sim rq2f85); state is never clipped
    assert state[i, 7] == pytest.approx(gripper_fraction(sel["/gripper/state"][i], 0, 0), abs=1e-6)
    assert action[i, 15] == pytest.approx(gripper_fraction(sel["/gripper/command"][i], 1, 3), abs=1e-6)
    assert state[i, 0] == pytest.approx(joint_q(sel["/sensors_data_raw"][i])[12], abs=1e-6)
    _, claw_sel = expected_selection(truths["c_claw"])
    claw_state, _ = episode_arrays(out, 2)
    assert claw_state[3, 15] == pytest.approx(
        gripper_fraction(claw_sel["/leju_claw_state"][3], 1, 0), abs=1e-6
    )


def test_camera_frames_are_the_nearest_source_images(converted, bag_dir):
    from lerobot.datasets import LeRobotDataset

    out, _ = converted
    _, truths = bag_dir
    ds = LeRobotDataset("lerobot/x", root=out)
    _, sel = expected_selection(truths["a_rq2f85"])
    differs = 0
    for i in range(len(sel["/sensors_data_raw"])):
        item = ds[i]
        for key, cam in zip(CAMERA_KEYS, CAMERA_TOPICS.values(), strict=True):
            rgb = item[key].mean(dim=(1, 2)).numpy() * 255
            assert palette_index(rgb) == sel[cam][i] % 216, (key, i)
        differs += sel[CAMERA_TOPICS["wrist_cam_r"]][i] != sel[CAMERA_TOPICS["head_cam_h"]][i]
        depth = item[DEPTH_KEYS[0]][0].numpy() * 255  # (H, W): near band, frame band, far band
        d_sel = sel[DEPTH_TOPICS["depth_h"]][i]
        middle = (depth_level(d_sel) - 100) / (1500 - 100) * 255  # per-frame min-max after the clip
        assert (
            abs(depth[:, 26:38].mean() - middle) < 4
            and depth[:, 48:].mean() > 250
            and depth[:, :16].mean() < 5
        )
    assert DEPTH_FAR_MM > 1500 and differs > 0  # the wrist camera's own timeline was really used


def test_dexhand_left_arm_no_drop(bag_dir, tmp_path: Path):
    folder, truths = bag_dir
    out = tmp_path / "hand"
    result = run_cli(
        "convert", str(truths["d_dexhand"].path), "--out", str(out), "--size", SIZE, "--no-depth",
        "--arms", "left", "--drop-frames", "0", "--gripper", "dexhand", "--workers", "1", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["features"]["action"]["names"]["action_names"] == ACTION_NAMES_DEXHAND[:8]
    assert (
        set(info["features"]) >= {CAMERA_KEYS[0], CAMERA_KEYS[1]} and CAMERA_KEYS[2] not in info["features"]
    )
    assert not any(k.startswith("observation.depth") for k in info["features"])
    stamps, sel = expected_selection(truths["d_dexhand"], drop=0, depth=False, sides="hl")
    state, action = episode_arrays(out, 0)
    want_state, want_action = expected_arrays(truths["d_dexhand"], sel)
    assert len(state) == len(stamps) == (90 + 2) // 3  # 90 head frames, no drop, every 3rd
    np.testing.assert_allclose(state, want_state[:, :8], atol=1e-5)
    np.testing.assert_allclose(action, want_action[:, :8], atol=1e-5)
    prov = json.loads((out / "meta" / "kuavo_provenance.json").read_text())["episodes"][0]
    assert prov["gripper_variant"] == "dexhand/JointState+robotHandPosition"


def test_usage_errors_and_exit_codes(bag_dir, tmp_path: Path):
    folder, truths = bag_dir
    assert run_cli("convert", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")).exit_code == 2
    bad = run_cli("convert", str(folder), "--out", str(tmp_path / "o"), "--size", "64")
    assert bad.exit_code == 2 and "size" in bad.stderr
    broken = [str(folder / "e_truncated.bag"), str(truths["g_short"].path)]
    none = run_cli("convert", *broken, "--out", str(tmp_path / "o"), "--workers", "1")
    assert none.exit_code == 1 and "no bag converted" in none.stderr and not (tmp_path / "o").exists()
    assert not list(tmp_path.glob(".o.kuavo-convert"))  # nothing staged worth a --resume
    strict = run_cli(
        "convert", str(truths["c_claw"].path), str(folder / "e_truncated.bag"), "--out", str(tmp_path / "s"),
        "--size", SIZE, "--no-depth", "--workers", "1", "--strict",
    )  # fmt: skip
    assert strict.exit_code == 1 and "--strict" in strict.stderr and not (tmp_path / "s").exists()
    again = run_cli("convert", str(truths["c_claw"].path), "--out", str(tmp_path / "s"), "--size", SIZE)
    assert again.exit_code == 2 and "--resume" in again.stderr  # staged episodes are not silently dropped


def test_resume_after_interruption_keeps_finished_episodes(bag_dir, tmp_path: Path):
    from kuavo_cli.convert.pipeline import convert_bags, staging_dir

    folder, truths = bag_dir
    bags = [truths[n].path for n in ("c_claw", "a_rq2f85", "b_legacy")]
    out = tmp_path / "resumed"
    cfg = ConvertConfig(size=SIZE, depth=False, workers=1)

    def interrupt_after_first(result, done, total):
        if done == 1:
            raise KeyboardInterrupt  # what Ctrl-C does between two bags

    with pytest.raises(KeyboardInterrupt):
        convert_bags(bags, out, cfg, progress=interrupt_after_first)
    staging = staging_dir(out.absolute())
    assert not out.exists()  # nothing that loads but is incomplete
    records = list((staging / "episodes").glob("*/episode.json"))
    assert len(records) == 1
    (staging / "tmp" / "half-written").mkdir(parents=True)  # a worker killed mid-bag
    (staging / "merged").mkdir()  # a merge killed half way

    changed = run_cli("convert", *map(str, bags), "--out", str(out), "--size", SIZE, "--resume", "--fps", "5")
    assert changed.exit_code == 2 and "fps" in changed.stderr

    result = run_cli(
        "convert", *map(str, bags), "--out", str(out), "--size", SIZE, "--no-depth", "--workers", "1",
        "--resume", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [c["reused"] for c in summary["converted"]] == [True, False, False]
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["total_episodes"] == 3
    prov = json.loads((out / "meta" / "kuavo_provenance.json").read_text())
    assert [e["source_bag"] for e in prov["episodes"]] == ["c_claw.bag", "a_rq2f85.bag", "b_legacy.bag"]
    state, _ = episode_arrays(out, 1)
    _, sel = expected_selection(truths["a_rq2f85"], depth=False)
    np.testing.assert_allclose(state, expected_arrays(truths["a_rq2f85"], sel)[0], atol=1e-5)
    assert not staging.exists()


def test_worker_memory_does_not_grow_with_bag_length(tmp_path: Path):
    """Peak RSS of a worker process converting a 14 s bag vs a 4 s bag (320x240 images, 3 cameras).

    Holding the decoded images of the long bag would take ~1260 x 230 kB = 290 MB (the official
    converter's way); even holding only the selected ones ~95 MB. Streaming keeps the difference small.
    """
    from kuavo_cli.convert.worker import BagJob, convert_bag, warm_up

    cfg = ConvertConfig(size="320x240", depth=False)
    ctx = multiprocessing.get_context("spawn")
    peaks = {}
    for name, seconds in (("short", 4.0), ("long", 14.0)):
        truth = write_bag(tmp_path / f"{name}.bag", BagSpec(seconds=seconds, size=(320, 240), depth=False))
        job = BagJob(0, str(truth.path), name, str(tmp_path / "staging"), "kuavo/mem", cfg.model_dump(), 1)
        with ProcessPoolExecutor(1, mp_context=ctx, initializer=warm_up) as pool:  # a fresh worker per bag
            result = pool.submit(convert_bag, job).result()
        assert result.status == "converted", result.reason
        peaks[name] = (result.frames, result.peak_rss_mb, result.start_rss_mb, result.seconds)
    print(f"\nworker peak RSS (frames, peak MB, start MB, s): {peaks}")
    assert peaks["long"][0] > 3.5 * peaks["short"][0]
    assert peaks["long"][1] - peaks["short"][1] < 35  # measured: under 10 MB
    shutil.rmtree(tmp_path / "staging", ignore_errors=True)


@pytest.mark.slow
def test_converted_dataset_trains_with_kuavo_train(converted, tmp_path: Path):
    from tests.train_fixtures import train_config, write_config

    out, summary = converted
    cfg = train_config(
        out, tmp_path / "run", steps=2, eval_freq=2, save_freq=2, batch_size=2, num_eval_batches=1
    )
    cfg["dataset"]["repo_id"] = summary["repo_id"]
    config = write_config(tmp_path / "train.yaml", cfg)
    result = run_cli("train", str(config), "--json")
    assert result.exit_code == 0, result.stderr
    trained = json.loads(result.stdout)
    assert trained["steps"] == 2 and np.isfinite(trained["best_val_loss"])
