"""`kuavo dataset`: flag deliberately bad synthetic episodes, then edit/split/merge into new datasets that
plain lerobot loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.cli_helpers import run_cli

DEFECTS = {1: "black_camera", 3: "frozen_camera", 4: "gripper_open", 5: "short", 6: "joint_limit", 8: "jump"}
EXPECTED_FLAGS = {
    1: ["black_camera"],
    3: ["frozen_camera"],
    4: ["gripper_never_closes"],
    5: ["too_short"],
    6: ["joint_limit"],
    8: ["outlier"],
}
GOOD = [0, 2, 7, 9]


@pytest.fixture(scope="module")
def defective(tmp_path_factory) -> Path:
    from kuavo_cli.data.synthetic import SyntheticSpec, make_synthetic_dataset

    spec = SyntheticSpec(
        num_episodes=10, episode_length=30, image_size=(32, 48), defects=tuple(DEFECTS.items())
    )
    return make_synthetic_dataset(tmp_path_factory.mktemp("curate") / "bad", spec)


def _json(*args: str) -> dict:
    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _states(root: Path) -> dict[int, np.ndarray]:
    table = pq.read_table(
        next((root / "data").rglob("*.parquet")), columns=["observation.state", "episode_index"]
    )
    states = np.stack(table.column("observation.state").to_pylist())
    episodes = table.column("episode_index").to_numpy()
    return {int(e): states[episodes == e] for e in np.unique(episodes)}


def _lerobot(root: Path):
    from lerobot.datasets import LeRobotDataset

    return LeRobotDataset("local/test", root=root)


def test_check_flags_exactly_the_bad_episodes(defective, tmp_path):
    report = _json("dataset", "check", str(defective), "--plot", str(tmp_path / "q.png"))
    got = {r["episode"]: [f["code"] for f in r["flags"]] for r in report["rows"] if r["flags"]}
    assert got == EXPECTED_FLAGS
    assert report["flagged"] == sorted(EXPECTED_FLAGS)
    by_episode = {r["episode"]: r for r in report["rows"]}
    assert "head_cam_h" in by_episode[1]["flags"][0]["message"]
    assert "wrist_cam_l" in by_episode[3]["flags"][0]["message"]
    assert "zarm_l4_link" in by_episode[6]["flags"][0]["message"]
    assert "max_step" in by_episode[8]["flags"][0]["message"]
    png = (tmp_path / "q.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    table = run_cli("dataset", "check", str(defective), "--no-video")
    assert table.exit_code == 0 and "too_short" in table.stdout and "black_camera" not in table.stdout
    assert "--delete 4,5,6,8" in table.stdout  # the camera flags need video


def test_clean_synthetic_dataset_has_no_flags(synthetic_dataset):
    assert _json("dataset", "check", str(synthetic_dataset))["flagged"] == []


def test_delete_flagged_writes_a_new_dataset_lerobot_loads(defective, tmp_path):
    before = {p: p.stat().st_mtime_ns for p in defective.rglob("*") if p.is_file()}
    out = tmp_path / "clean"
    result = _json("dataset", "edit", str(defective), "--delete-flagged", "--out", str(out))
    assert result["kept"] == GOOD and result["deleted"] == sorted(EXPECTED_FLAGS)
    dataset = _lerobot(out)
    assert dataset.meta.total_episodes == len(GOOD)
    assert dataset.num_frames == 30 * len(GOOD) == len(dataset)
    source, edited = _states(defective), _states(out)
    for new, old in enumerate(GOOD):
        np.testing.assert_array_equal(edited[new], source[old])
    # Re-encoded video frames of a kept episode still show that episode (codec tolerance).
    src = _lerobot(defective)
    for new, old in ((0, 0), (2, 7)):
        a = dataset[int(dataset.meta.episodes["dataset_from_index"][new]) + 5]
        b = src[int(src.meta.episodes["dataset_from_index"][old]) + 5]
        key = "observation.images.head_cam_h"
        assert float((a[key] - b[key]).abs().mean()) < 0.05
    assert _json("dataset", "check", str(out))["flagged"] == []
    assert before == {p: p.stat().st_mtime_ns for p in defective.rglob("*") if p.is_file()}  # untouched


@pytest.mark.parametrize("where", ["same", "inside", "exists"])
def test_edit_refuses_in_place_or_existing_output(defective, tmp_path, where):
    out = {"same": defective, "inside": defective / "clean", "exists": tmp_path}[where]
    result = run_cli("dataset", "edit", str(defective), "--delete", "5", "--out", str(out))
    assert result.exit_code == 2 and "--out" in result.stderr and "Traceback" not in result.stderr
    assert not (defective / "clean").exists()


def test_split_and_merge_keep_frames_and_task_texts(synthetic_dataset, defective, tmp_path):
    split = _json(
        "dataset", "split", str(synthetic_dataset), "--split", "a=0-3", "--split", "b=4,5", "--out",
        str(tmp_path / "split"),
    )  # fmt: skip
    assert {n: s["episodes"] for n, s in split["splits"].items()} == {"a": 4, "b": 2}
    a, b = _lerobot(tmp_path / "split" / "a"), _lerobot(tmp_path / "split" / "b")
    assert len(a) == 4 * 40 and len(b) == 2 * 40
    np.testing.assert_array_equal(_states(tmp_path / "split" / "b")[1], _states(synthetic_dataset)[5])
    _json("dataset", "edit", str(tmp_path / "split" / "b"), "--task", "Weigh the parcel", "--out",
          str(tmp_path / "b2"))  # fmt: skip
    merged = _json("dataset", "merge", str(tmp_path / "split" / "a"), str(tmp_path / "b2"), "--out",
                   str(tmp_path / "merged"))  # fmt: skip
    assert merged["episodes"] == 6 and merged["frames"] == 240
    assert merged["tasks"] == ["Sort the toys into the matching boxes", "Weigh the parcel"]
    dataset = _lerobot(tmp_path / "merged")
    assert dataset[0]["task"] == "Sort the toys into the matching boxes"
    assert dataset[len(dataset) - 1]["task"] == "Weigh the parcel"
    refused = run_cli(
        "dataset", "merge", str(synthetic_dataset), str(defective), "--out", str(tmp_path / "m2")
    )
    assert refused.exit_code == 2 and "observation.images" in refused.stderr and "shape" in refused.stderr
    assert not (tmp_path / "m2").exists()


def test_edit_names_a_missing_video_before_lerobot(defective, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(defective, root)
    video = next((root / "videos").rglob("*.mp4"))
    video.unlink()
    result = run_cli("dataset", "edit", str(root), "--delete", "5", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and str(video) in result.stderr
    assert not (tmp_path / "out").exists()


def test_split_fraction_that_rounds_to_no_episode_is_refused(synthetic_dataset, tmp_path):
    # lerobot's own fraction split would silently skip `val` here (int(6 * 0.05) == 0).
    out = tmp_path / "split"
    result = run_cli(
        "dataset",
        "split",
        str(synthetic_dataset),
        "--split",
        "train=0.95",
        "--split",
        "val=0.05",
        "--out",
        str(out),
    )
    assert result.exit_code == 2 and "--split val=0.05 is no episode of 6" in result.stderr
    assert not out.exists()


def test_demo_data_defects_from_the_cli(tmp_path):
    made = _json("demo-data", str(tmp_path / "d"), "--episodes", "3", "--length", "10", "--size", "32x32",
                 "--defect", "1=short", "--task", "Weigh the parcel")  # fmt: skip
    assert made["frames"] == 10 + 4 + 10
    assert _lerobot(tmp_path / "d")[0]["task"] == "Weigh the parcel"
    bad = run_cli("demo-data", str(tmp_path / "e"), "--defect", "1=blurry")
    assert bad.exit_code == 2 and "unknown synthetic defect 'blurry'" in bad.stderr
