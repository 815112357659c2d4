"""The fast read path and the decoded-frame cache return exactly lerobot's items, and training on them is
numerically the same; the cache is built atomically and invalidated when the dataset changes."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from tests.cli_helpers import run_cli
from tests.train_fixtures import train_config

CAMERA = "observation.images.head_cam_h"
# ACT-like (a chunk of future actions) plus observation history on a camera and the state (diffusion-like),
# so padding at both episode ends and multi-frame video queries are covered.
DELTAS = {"action": [i / 10 for i in range(8)], CAMERA: [-0.2, -0.1, 0.0], "observation.state": [-0.1, 0.0]}
EPISODES = [0, 2, 3, 5]


def _lerobot(root: Path, **kwargs):
    from lerobot.datasets import LeRobotDataset

    return LeRobotDataset("kuavo/synthetic", root=root, delta_timestamps=DELTAS, episodes=EPISODES, **kwargs)


def _meta(root: Path):
    from lerobot.datasets import LeRobotDatasetMetadata

    return LeRobotDatasetMetadata("kuavo/synthetic", root=root)


def _assert_same_item(want: dict, got: dict, index: int) -> None:
    assert list(got) == list(want), index
    for key, value in want.items():
        if isinstance(value, torch.Tensor):
            assert got[key].dtype == value.dtype and got[key].shape == value.shape, (index, key)
            assert torch.equal(got[key], value), (index, key)
        else:
            assert got[key] == value, (index, key)


@pytest.fixture(scope="module")
def cache_path(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kuavo_cli.data.frame_cache_build import ensure_frame_cache

    result = ensure_frame_cache(
        synthetic_dataset, _meta(synthetic_dataset), tmp_path_factory.mktemp("frames")
    )
    assert result.built and result.num_frames == 3 * 240
    return result.path


def test_fast_and_cached_items_equal_lerobot_items(synthetic_dataset: Path, cache_path: Path):
    from kuavo_cli.data.fast_reader import use_fast_reader
    from kuavo_cli.data.frame_cache import FrameCache

    reference = _lerobot(synthetic_dataset)
    fast = use_fast_reader(_lerobot(synthetic_dataset))
    cached = use_fast_reader(_lerobot(synthetic_dataset), cache=FrameCache(cache_path))
    assert len(fast) == len(cached) == len(reference) == 160
    pads = 0
    for index in range(len(reference)):  # every frame, including both ends of every episode
        want = reference[index]
        pads += int(want["action_is_pad"].any()) + int(want[f"{CAMERA}_is_pad"].any())
        _assert_same_item(want, fast[index], index)
        _assert_same_item(want, cached[index], index)
    assert pads > 0  # padding was exercised
    assert reference[0][CAMERA].shape == (3, 3, 48, 64)
    for dataset in (fast, cached):  # spawned workers (macOS) receive a pickled copy
        copy = pickle.loads(pickle.dumps(dataset))
        _assert_same_item(reference[17], copy[17], 17)


def test_uint8_transport_and_collate_equal_lerobot_batches(synthetic_dataset: Path, cache_path: Path):
    """Workers ship uint8; collate_float_frames (CPU training) and images_to_float (GPU training, run here
    on CPU) give lerobot's float batches bit for bit, through real DataLoader worker processes."""
    from torch.utils.data import DataLoader

    from kuavo_cli.data.batch import collate_float_frames, images_to_float
    from kuavo_cli.data.fast_reader import use_fast_reader
    from kuavo_cli.data.frame_cache import FrameCache

    order = list(range(0, 160, 7))
    reference = list(DataLoader(torch.utils.data.Subset(_lerobot(synthetic_dataset), order), batch_size=4))
    uint8 = use_fast_reader(_lerobot(synthetic_dataset, return_uint8=True), cache=FrameCache(cache_path))
    assert uint8[0][CAMERA].dtype == torch.uint8
    subset = torch.utils.data.Subset(uint8, order)
    on_cpu = list(DataLoader(subset, batch_size=4, num_workers=2, collate_fn=collate_float_frames))
    for_gpu = [images_to_float(b, "cpu") for b in DataLoader(subset, batch_size=4, num_workers=2)]
    for want, got_cpu, got_gpu in zip(reference, on_cpu, for_gpu, strict=True):
        _assert_same_item(want, got_cpu, 0)
        _assert_same_item(want, got_gpu, 0)


def test_training_with_cache_matches_training_without(
    synthetic_dataset: Path, cache_path: Path, tmp_path: Path
):
    """Same seed, same data order: identical losses with and without the cache (through the real trainer)."""
    from kuavo_cli.train.api import run_training
    from tests.train_fixtures import read_metrics

    common = {"steps": 3, "eval_freq": 3, "save_freq": 3, "num_eval_batches": 1, "num_workers": 1}
    plain = train_config(synthetic_dataset, tmp_path / "plain", **common)
    cached = train_config(synthetic_dataset, tmp_path / "cached", **common)
    cached["dataset"].update(cache=True, cache_dir=str(cache_path.parent))
    run_training(plain)
    run_training(cached)
    assert read_metrics(tmp_path / "plain", "train") == read_metrics(tmp_path / "cached", "train")
    assert read_metrics(tmp_path / "plain", "val") == read_metrics(tmp_path / "cached", "val")
    assert len(list(cache_path.parent.glob("*/manifest.json"))) == 1  # training reused the built cache


def test_cache_folder_has_umask_permissions(cache_path: Path):
    """The cache folder is built in a staging folder that becomes the cache: it must not keep mkdtemp's 0700
    (other users of a shared training machine read the same cache)."""
    umask = os.umask(0)
    os.umask(umask)
    assert cache_path.stat().st_mode & 0o777 == 0o777 & ~umask


def test_cache_invalidated_when_the_dataset_changes(synthetic_dataset: Path, tmp_path: Path):
    from kuavo_cli.data.frame_cache_build import ensure_frame_cache

    root = tmp_path / "data"
    shutil.copytree(synthetic_dataset, root)
    caches = tmp_path / "frames"
    first = ensure_frame_cache(root, _meta(root), caches)
    again = ensure_frame_cache(root, _meta(root), caches)
    assert first.built and not again.built and again.path == first.path
    video = next((root / "videos").rglob("*.mp4"))
    video.touch()  # new mtime: the frames may differ now
    rebuilt = ensure_frame_cache(root, _meta(root), caches)
    assert rebuilt.built and rebuilt.path != first.path
    assert rebuilt.removed_stale == [str(first.path)] and not first.path.exists()
    assert sorted(p.name for p in caches.iterdir() if not p.name.startswith(".")) == [rebuilt.path.name]


def test_damaged_video_fails_clearly_and_leaves_no_cache(synthetic_dataset: Path, tmp_path: Path):
    from kuavo_cli.data.frame_cache_build import ensure_frame_cache
    from kuavo_cli.errors import KuavoError

    root = tmp_path / "data"
    shutil.copytree(synthetic_dataset, root)
    meta = _meta(root)
    video = next((root / "videos").rglob("*.mp4"))
    video.write_bytes(video.read_bytes()[:2000])
    caches = tmp_path / "frames"
    with pytest.raises(KuavoError, match="cannot decode"):
        ensure_frame_cache(root, meta, caches)
    assert not caches.exists()  # found while planning the cache's size: nothing was written at all


def test_cli_cache_builds_then_reuses(synthetic_dataset: Path, tmp_path: Path):
    out = tmp_path / "frames"
    first = run_cli("cache", str(synthetic_dataset), "--out", str(out), "--json")
    assert first.exit_code == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["built"] and report["frames"] == 720 and report["bytes"] >= 720 * 3 * 48 * 64
    second = run_cli("cache", str(synthetic_dataset), "--out", str(out))
    assert second.exit_code == 0 and "up to date" in second.stdout and report["cache"] in second.stdout
    bad = run_cli("cache", str(tmp_path / "nowhere"))
    assert bad.exit_code == 2 and "no meta/info.json" in bad.stderr and "Traceback" not in bad.stderr
