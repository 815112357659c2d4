"""`kuavo convert --shard I/N` on several "machines", then `kuavo convert --merge`: same as one conversion."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kuavo_cli.convert.shard import select_shard, shard_of
from tests.cli_helpers import run_cli
from tests.rosbag_fixtures import BagSpec, write_bag
from tests.test_convert import episode_arrays

OPTIONS = ["--size", "32x24", "--drop-frames", "2", "--no-depth", "--workers", "1", "--json"]
NAMES = [f"task1_{i:04d}.bag" for i in range(7)]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The same 7 bags converted whole, and as shards 0/2 and 1/2 from two differently ordered lists."""
    root = tmp_path_factory.mktemp("shards")
    for i, name in enumerate(NAMES):
        write_bag(root / "bags" / name, BagSpec(seconds=1.0 + 0.1 * (i % 3), size=(32, 24), depth=False))
    bags = [str(root / "bags" / n) for n in NAMES]
    machine_b = root / "machine_b"  # another machine sees the bags elsewhere, listed in another order
    shutil.copytree(root / "bags", machine_b)
    outs = {}
    for label, args in {
        "whole": [str(root / "bags")],
        "s0": [*bags, "--shard", "0/2"],
        "s1": [*(str(machine_b / n) for n in reversed(NAMES)), "--shard", "1/2"],
    }.items():
        result = run_cli("convert", *args, "--out", str(root / label), *OPTIONS)
        assert result.exit_code == 0, result.stderr
        outs[label] = json.loads(result.stdout)
    merged = run_cli(
        "convert", "--merge", str(root / "s0"), str(root / "s1"), "--out", str(root / "m"), "--json"
    )
    assert merged.exit_code == 0, merged.stderr
    return {"root": root, "summaries": outs, "merge": json.loads(merged.stdout)}


def test_shard_split_is_disjoint_complete_and_order_free():
    shards = [select_shard(NAMES, f"{i}/3") for i in range(3)]
    assert sorted(sum(shards, [])) == sorted(NAMES)
    assert select_shard(list(reversed(NAMES)), "1/3") == list(reversed(shards[1]))
    assert shard_of("/data/a/task1_0003.bag", 3) == shard_of("/mnt/b/task1_0003.bag", 3)
    more = [*NAMES, "task1_0100.bag"]  # adding a bag moves no other bag
    assert [n for n in select_shard(more, "1/3") if n in NAMES] == shards[1]


def test_shards_merged_equal_the_whole_conversion(converted):
    root, summaries = converted["root"], converted["summaries"]
    s0 = [c["bag"] for c in summaries["s0"]["converted"]]
    s1 = [c["bag"] for c in summaries["s1"]["converted"]]
    assert s0 and s1 and sorted(s0 + s1) == NAMES and not set(s0) & set(s1)
    assert summaries["s0"]["shard"] == "0/2" and summaries["s0"]["bags_total"] == len(NAMES)
    assert converted["merge"]["episodes"] == len(NAMES)

    def by_bag(folder: Path) -> dict:
        prov = json.loads((folder / "meta" / "kuavo_provenance.json").read_text())
        return {e["source_bag"]: e["episode_index"] for e in prov["episodes"]}

    whole, merged = by_bag(root / "whole"), by_bag(root / "m")
    assert sorted(merged) == sorted(whole) == NAMES
    info = json.loads((root / "m" / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["total_episodes"] == len(NAMES)
    assert (
        info["total_frames"]
        == json.loads((root / "whole" / "meta" / "info.json").read_text())["total_frames"]
    )
    frames_whole, frames_merged = _frames(root / "whole"), _frames(root / "m")
    for bag in NAMES:
        a_state, a_action = episode_arrays(root / "whole", whole[bag])
        b_state, b_action = episode_arrays(root / "m", merged[bag])
        assert len(a_state) == len(b_state) > 0, bag
        np.testing.assert_array_equal(a_state, b_state)
        np.testing.assert_array_equal(a_action, b_action)
        for key in frames_whole:
            a, b = frames_whole[key][whole[bag]], frames_merged[key][merged[bag]]
            assert a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).mean() < 1.0, (bag, key)


def _frames(root: Path) -> dict[str, dict[int, np.ndarray]]:
    """Camera key -> episode -> decoded frames (N, H, W, 3), through lerobot's own dataset reader."""
    from lerobot.datasets import LeRobotDataset

    ds = LeRobotDataset("lerobot/x", root=root)
    out: dict[str, dict[int, list]] = {k: {} for k in ds.meta.video_keys}
    for i in range(len(ds)):
        item = ds[i]
        for key in out:
            out[key].setdefault(int(item["episode_index"]), []).append((item[key].numpy() * 255).round())
    return {k: {e: np.stack(v) for e, v in eps.items()} for k, eps in out.items()}


def test_merge_refuses_overlap_other_options_and_existing_out(converted, tmp_path: Path):
    root = converted["root"]
    twice = run_cli("convert", "--merge", str(root / "s0"), str(root / "whole"), "--out", str(tmp_path / "x"))
    assert twice.exit_code == 2 and "is in both" in twice.stderr and not (tmp_path / "x").exists()
    extra = write_bag(tmp_path / "task9_0000.bag", BagSpec(seconds=1.0, size=(32, 24), depth=False)).path
    other = tmp_path / "other"
    result = run_cli("convert", str(extra), "--out", str(other), *OPTIONS[:-1], "--fps", "5")
    assert result.exit_code == 0, result.stderr
    differs = run_cli("convert", "--merge", str(root / "s1"), str(other), "--out", str(tmp_path / "y"))
    assert differs.exit_code == 2 and "other options" in differs.stderr and "fps" in differs.stderr
    exists = run_cli("convert", "--merge", str(root / "s0"), str(root / "s1"), "--out", str(root / "m"))
    assert exists.exit_code == 2 and "--force" in exists.stderr
    empty = run_cli("convert", str(root / "bags" / NAMES[0]), "--out", str(tmp_path / "z"), "--shard", "3/2")
    assert empty.exit_code == 2 and "shard" in empty.stderr
