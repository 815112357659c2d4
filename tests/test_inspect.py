"""`kuavo inspect` on the synthetic Kuavo dataset, on rosbags written with rosbags' Writer, and on a run folder."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from kuavo_cli.inspect import SCHEMA_PATH
from kuavo_cli.inspect.jsonschema_lite import validate_file
from tests.cli_helpers import run_cli

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _report(*args: str) -> dict:
    result = run_cli("inspect", *args, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert validate_file(report, SCHEMA_PATH) == []
    return report


def _error(*args: str, code: int = 2) -> str:
    result = run_cli("inspect", *args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 2000
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture
def dataset_copy(synthetic_dataset, tmp_path) -> Path:
    """A private copy to damage (the session fixture is shared)."""
    return Path(shutil.copytree(synthetic_dataset, tmp_path / "ds"))


# ---- datasets --------------------------------------------------------------------------------------


def test_dataset_report_matches_the_synthetic_kuavo_data(synthetic_dataset):
    r = _report(str(synthetic_dataset), "--chunk-size", "50")
    assert (r["codebase_version"], r["fps"], r["robot_type"]) == ("v3.0", 10, "kuavo4pro")
    assert (r["episodes"], r["episodes_local"], r["frames"], r["duration_s"]) == (6, 6, 240, 24.0)
    assert r["tasks"][0]["task"].startswith("Sort the toys")
    cams = {c["key"]: c for c in r["cameras"]}
    assert set(cams) == {f"observation.images.{k}" for k in ("head_cam_h", "wrist_cam_l", "wrist_cam_r")}
    assert all((c["codec"], c["width"], c["height"], c["fps"]) == ("av1", 64, 48, 10) for c in cams.values())
    state = r["stats"]["observation.state"]
    assert state["names"][7] == "gripper_l" and r["stats"]["action"]["names"][15] == "right_claw"
    assert all(lo <= m <= hi for lo, m, hi in zip(state["min"], state["mean"], state["max"], strict=True))
    assert sum(state["nan_count"]) == 0
    assert (
        r["episode_lengths"]["min"] == r["episode_lengths"]["max"] == 40
        and sum(r["episode_lengths"]["histogram"]["counts"]) == 6
    )
    codes = {c["code"] for c in r["checks"] if c["level"] == "warning"}
    assert codes == {"short_episodes"}  # 40 frames < chunk 50; nothing else is wrong with this layout
    assert not any(
        c["code"] == "short_episodes" for c in _report(str(synthetic_dataset), "--chunk-size", "40")["checks"]
    )


def test_episode_frames_and_trajectories_pngs(synthetic_dataset, tmp_path):
    out = tmp_path / "plots"
    r = _report(str(synthetic_dataset), "--episode", "2", "--frames", "--out", str(out))
    assert r["episode"] == {
        "episode_index": 2,
        "length": 40,
        "tasks": ["Sort the toys into the matching boxes"],
    }
    frames, traj = Path(r["outputs"]["frames_png"]), Path(r["outputs"]["trajectories_png"])
    assert frames.parent == out and traj.parent == out
    w, h = _png_size(frames)
    assert w > 600 and h > 300  # 6 frames across, 3 cameras down
    assert _png_size(traj)[0] > 600
    human = run_cli("inspect", str(synthetic_dataset), "--episode", "2")
    assert human.exit_code == 0 and "zarm_l1_link" in human.stdout and "episode 2: 40 frames" in human.stdout
    assert "cameras" in human.stdout and "av1" in human.stdout
    assert _error(str(synthetic_dataset), "--episode", "99").count("--episode 99") == 1


def test_schema_check_warns_about_fps_cameras_and_nans(dataset_copy):
    import pyarrow as pa
    import pyarrow.parquet as pq

    info_path = dataset_copy / "meta" / "info.json"
    info = json.loads(info_path.read_text())
    info["fps"] = 30
    del info["features"]["observation.images.wrist_cam_r"]
    info_path.write_text(json.dumps(info, indent=2))
    data = next((dataset_copy / "data").rglob("*.parquet"))
    table = pq.read_table(data)
    state = np.stack(table.column("observation.state").to_pylist()).astype(np.float32)
    state[5, 3] = np.nan
    column = pa.array(list(state), type=table.schema.field("observation.state").type)
    pq.write_table(
        table.set_column(table.schema.get_field_index("observation.state"), "observation.state", column), data
    )
    r = _report(str(dataset_copy))
    by_code = {c["code"]: c["message"] for c in r["checks"]}
    assert "fps is 30" in by_code["fps"]
    assert "wrist_cam_r" in by_code["missing_camera"]
    assert "zarm_l4_link" in by_code["nan"] and r["stats"]["observation.state"]["nan_count"][3] == 1


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda root: (root / "meta" / "info.json").unlink(), "meta/info.json"),
        (lambda root: _truncate(next((root / "data").rglob("*.parquet"))), "data/chunk-000/file-000.parquet"),
        (lambda root: _truncate(root / "meta" / "tasks.parquet"), "meta/tasks.parquet"),
        (lambda root: next((root / "videos").rglob("*.mp4")).unlink(), ".mp4"),
    ],
)
def test_partial_or_corrupt_dataset_names_the_file(dataset_copy, damage, named):
    damage(dataset_copy)
    line = _error(str(dataset_copy))
    assert named in line and str(dataset_copy) in line


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_not_a_dataset_run_or_bags_is_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    assert "is not a LeRobot dataset" in _error(str(tmp_path / "empty"))
    assert "is a file" in _error(str(tmp_path / "notes.txt"))
    assert "does not exist" in _error(str(tmp_path / "nope"))
    assert "kuavo download" in _error("someone/not-cached-anywhere")


# ---- rosbags ---------------------------------------------------------------------------------------


def write_bag(path: Path, seconds: float = 2.0, joint_hz: int = 10, camera_hz: int = 5) -> None:
    """A ROS1 bag with a JointState topic and a CompressedImage topic (rosbags' Writer, noetic types)."""
    from rosbags.rosbag1 import Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS1_NOETIC)
    joint, image = store.types["sensor_msgs/msg/JointState"], store.types["sensor_msgs/msg/CompressedImage"]
    header, stamp = store.types["std_msgs/msg/Header"], store.types["builtin_interfaces/msg/Time"]
    t0 = 1_700_000_000 * 10**9
    path.parent.mkdir(parents=True, exist_ok=True)
    with Writer(path) as writer:
        cj = writer.add_connection("/kuavo_arm_traj", joint.__msgtype__, typestore=store)
        ci = writer.add_connection("/cam_h/color/image_raw/compressed", image.__msgtype__, typestore=store)
        for i in range(round(seconds * joint_hz) + 1):
            t = t0 + i * 10**9 // joint_hz
            h = header(seq=i, stamp=stamp(sec=t // 10**9, nanosec=t % 10**9), frame_id="")
            msg = joint(header=h, name=[f"arm_joint_{j}" for j in range(14)], position=np.full(14, 0.1 * i),
                        velocity=np.zeros(0), effort=np.zeros(0))  # fmt: skip
            writer.write(cj, t, store.serialize_ros1(msg, joint.__msgtype__))
            if i % (joint_hz // camera_hz) == 0:
                img = image(
                    header=h, format="jpeg", data=np.frombuffer(b"\xff\xd8\xff\xe0" + bytes(64), np.uint8)
                )
                writer.write(ci, t, store.serialize_ros1(img, image.__msgtype__))


def test_rosbag_folder_counts_rates_and_unreadable_bags(tmp_path):
    root = tmp_path / "bags"
    write_bag(root / "TASK1" / "task1_0000.bag", seconds=2.0)
    write_bag(root / "TASK1" / "task1_0001.bag", seconds=4.0)
    (root / "TASK1" / "task1_0002.bag").write_bytes(b"#ROSBAG V2.0\n" + bytes(40))
    r = _report(str(root))
    assert (r["bags"], r["readable"]) == (3, 2)
    good = {Path(e["path"]).name: e for e in r["entries"] if e["ok"]}
    e = good["task1_0001.bag"]
    assert e["duration_s"] == pytest.approx(4.0) and e["messages"] == 41 + 21
    topics = {t["topic"]: t for t in e["topics"]}
    assert (
        topics["/kuavo_arm_traj"]["msgtype"] == "sensor_msgs/msg/JointState"
        and topics["/kuavo_arm_traj"]["count"] == 41
    )
    assert topics["/cam_h/color/image_raw/compressed"]["rate_hz"] == pytest.approx(5.0)
    assert topics["/kuavo_arm_traj"]["rate_hz"] == pytest.approx(10.0)
    assert "/sensors_data_raw" in e["missing_topics"]
    bad = next(x for x in r["entries"] if not x["ok"])
    assert bad["path"].endswith("task1_0002.bag") and "ReaderError" in bad["error"]
    assert {c["code"] for c in r["checks"]} == {"unreadable", "missing_topics"}
    assert r["total_duration_s"] == pytest.approx(6.0)
    human = run_cli("inspect", str(root))
    assert human.exit_code == 0 and "cannot open" in human.stdout and "task1_0002.bag" in human.stdout
    assert "--episode / --frames apply to LeRobot datasets" in _error(str(root), "--frames")


# ---- training runs ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> tuple[Path, int]:
    """checkpoints/000010/pretrained_model from a real tiny lerobot ACT policy + metrics.jsonl + last link."""
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy

    run = tmp_path_factory.mktemp("runs") / "run_a"
    cfg = ACTConfig(
        chunk_size=5, n_action_steps=5, dim_model=32, dim_feedforward=64, n_heads=2, n_encoder_layers=1,
        n_decoder_layers=1, use_vae=False, pretrained_backbone_weights=None, device="cpu",
        input_features={"observation.state": PolicyFeature(FeatureType.STATE, (16,)),
                        "observation.environment_state": PolicyFeature(FeatureType.ENV, (16,))},
        output_features={"action": PolicyFeature(FeatureType.ACTION, (16,))},
    )  # fmt: skip
    policy = ACTPolicy(cfg)
    step_dir = run / "checkpoints" / "000010"
    policy.save_pretrained(step_dir / "pretrained_model")
    (run / "checkpoints" / "last").symlink_to("000010")
    lines = []
    for step in range(1, 11):
        lines.append(json.dumps({"step": step, "split": "train", "loss": 1.0 / step, "lr": 1e-4}))
        if step % 2 == 0:
            lines.append(json.dumps({"step": step, "split": "val", "loss": 0.5 + (step - 6) ** 2 / 100}))
    lines.append('{"step": 11, "split": "tra')  # the line a crash cuts off
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return run, sum(p.numel() for p in policy.state_dict().values())


def test_run_folder_policy_params_best_and_curves(run_folder, tmp_path):
    run, n_params = run_folder
    r = _report(str(run), "--out", str(tmp_path / "plots"))
    assert (
        r["policy"]["type"] == "act"
        and r["policy"]["parameters"] == n_params
        and r["policy"]["chunk_size"] == 5
    )
    assert r["checkpoints"] == [10] and r["last_step"] == 10 and r["steps"] == 10
    assert r["best"] == {"step": 6, "val_loss": 0.5}
    assert r["val"]["steps"] == [2, 4, 6, 8, 10] and r["train"]["points"] == 10
    assert [c["code"] for c in r["checks"]] == ["metrics_lines"]
    assert _png_size(Path(r["outputs"]["loss_png"]))[0] > 400
    human = run_cli("inspect", str(run), "--no-plots")
    assert human.exit_code == 0 and f"{n_params:,} parameters" in human.stdout
    assert "best validation loss 0.5 at step 6" in human.stdout and "•" in human.stdout  # the text plot
    step = _report(str(run / "checkpoints" / "000010"), "--no-plots")
    assert step["run_dir"] == str(run) and step["best"]["step"] == 6


def test_corrupt_checkpoint_names_the_file(run_folder, tmp_path):
    run = Path(shutil.copytree(run_folder[0], tmp_path / "run_b", symlinks=True))
    weights = run / "checkpoints" / "000010" / "pretrained_model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:4])
    assert "model.safetensors" in _error(str(run))
    weights.unlink()
    assert "no model.safetensors" in _error(str(run))


def test_schema_rejects_a_broken_report(synthetic_dataset):
    report = _report(str(synthetic_dataset))
    report["fps"] = "ten"
    report["cameras"][0]["width"] = math.pi
    assert validate_file(report, SCHEMA_PATH)
