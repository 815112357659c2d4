"""The synthetic Kuavo dataset: exact schema, plain lerobot loads it, torchcodec decodes its videos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kuavo_cli.data.schema import ACTION_NAMES_CLAW, CAMERA_KEYS, STATE_NAMES
from kuavo_cli.data.synthetic import SyntheticSpec, make_synthetic_dataset
from tests.cli_helpers import run_cli


def test_schema_and_plain_lerobot_load(synthetic_dataset: Path):
    from lerobot.datasets import LeRobotDataset

    info = json.loads((synthetic_dataset / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 10 and info["robot_type"] == "kuavo4pro"
    feats = info["features"]
    assert feats["observation.state"]["shape"] == [16] and feats["observation.state"]["dtype"] == "float32"
    assert feats["observation.state"]["names"]["state_names"] == STATE_NAMES
    assert feats["action"]["names"]["action_names"] == ACTION_NAMES_CLAW
    for key in CAMERA_KEYS:
        assert feats[key]["dtype"] == "video" and feats[key]["shape"] == [3, 48, 64]
        assert list((synthetic_dataset / "videos" / key).rglob("*.mp4"))
    ds = LeRobotDataset("kuavo/synthetic", root=synthetic_dataset, video_backend="torchcodec")
    assert ds.num_episodes == 6 and len(ds) == 240
    item = ds[41]
    assert item["observation.images.head_cam_h"].shape == (3, 48, 64)
    assert item["observation.state"].shape == (16,)


def test_videos_decode_with_torchcodec_and_match_render(synthetic_dataset: Path):
    from torchcodec.decoders import VideoDecoder

    video = next((synthetic_dataset / "videos" / CAMERA_KEYS[0]).rglob("*.mp4"))
    decoder = VideoDecoder(str(video))
    frames = decoder.get_frames_in_range(0, 3).data
    assert frames.shape[1:] == (3, 48, 64)
    assert frames.float().std() > 5  # not blank: the disc and gradient are there


def test_actions_are_next_states_and_within_limits(synthetic_dataset: Path):
    import pandas as pd

    df = pd.concat(pd.read_parquet(p) for p in sorted((synthetic_dataset / "data").rglob("*.parquet")))
    for _, ep in df.groupby("episode_index"):
        state = np.stack(ep["observation.state"].to_numpy())
        action = np.stack(ep["action"].to_numpy())
        np.testing.assert_allclose(action[:-1], state[1:], atol=1e-6)  # learnable: a = next state
        assert np.all(state[:, [7, 15]] >= 0) and np.all(state[:, [7, 15]] <= 1)


def test_deterministic_for_seed(tmp_path: Path):
    spec = SyntheticSpec(num_episodes=1, episode_length=8, image_size=(32, 32), seed=3)
    a = make_synthetic_dataset(tmp_path / "a", spec)
    b = make_synthetic_dataset(tmp_path / "b", spec)
    pa = next((a / "data").rglob("*.parquet")).read_bytes()
    pb = next((b / "data").rglob("*.parquet")).read_bytes()
    import pandas as pd

    da = pd.read_parquet(next((a / "data").rglob("*.parquet")))
    db = pd.read_parquet(next((b / "data").rglob("*.parquet")))
    assert pa and pb
    np.testing.assert_array_equal(np.stack(da["action"]), np.stack(db["action"]))


def test_cli_refuses_overwrite_and_bad_size(tmp_path: Path):
    out = tmp_path / "d"
    ok = run_cli("demo-data", str(out), "--episodes", "1", "--length", "6", "--size", "32x32", "--json")
    assert ok.exit_code == 0, ok.stderr
    again = run_cli("demo-data", str(out), "--episodes", "1")
    assert again.exit_code == 2 and "--force" in again.stderr
    bad = run_cli("demo-data", str(tmp_path / "e"), "--size", "big")
    assert bad.exit_code == 2 and "WIDTHxHEIGHT" in bad.stderr
    assert not (tmp_path / "e").exists()


@pytest.mark.parametrize("size", ["33x32", "8x8"])
def test_invalid_sizes(tmp_path: Path, size: str):
    result = run_cli("demo-data", str(tmp_path / "x"), "--size", size)
    assert result.exit_code == 2
