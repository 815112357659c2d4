"""`kuavo convert --hub`: fetch -> convert -> delete under a disk cap, killed with SIGKILL mid-way and re-run.

Real bags (rosbags' Writer) served by the loopback hub, the real CLI in a real subprocess, a real
SIGKILL of that process (its workers must die with it), and the datasets checked value by value
against an independent reading of the alignment rule (tests/test_convert.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from kuavo_cli.convert.from_hub import remote_key
from tests.hub_server import HubServer
from tests.rosbag_fixtures import BagSpec, make_truncated, write_bag
from tests.test_convert import episode_arrays, expected_arrays, expected_selection

REPO = "org/icra"
TASKS = {"sim/TASK1-ToySorting": 14, "sim/TASK2-ParcelWeighing": 10}
BROKEN = "sim/TASK2-ParcelWeighing/task2_0099.bag"  # truncated: skipped, and not fetched again
OPTIONS = ["--size", "32x24", "--drop-frames", "2"]  # and the sha256 check of every bag


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory):
    """24 one-second bags in two task folders (plus one truncated), and their ground truth."""
    folder = tmp_path_factory.mktemp("hubbags")
    truths, files = {}, {}
    for task, count in TASKS.items():
        for i in range(count):
            path = f"{task}/task{task[8]}_{i:04d}.bag"
            truths[path] = write_bag(folder / path, BagSpec(seconds=1.0 + 0.1 * (i % 3), size=(32, 24)))
            files[path] = truths[path].path.read_bytes()
    broken = make_truncated(truths[f"{task}/task2_0000.bag"].path, folder / "broken.bag")
    files[BROKEN] = broken.read_bytes()
    return truths, files


@pytest.fixture
def hub(bags, monkeypatch):
    _, files = bags
    server = HubServer()
    server.add_repo(REPO, files)
    with server:
        yield server


def _env(hub: HubServer, tmp_path: Path) -> dict:
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1"}
    env.update(HF_HOME=str(tmp_path / "hf_home"), NO_COLOR="1", PYTHONPATH=str(Path(__file__).parents[1]))
    env.pop("HF_TOKEN", None)
    return env


def _cmd(out: Path, cap: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "kuavo_cli", "convert", "--hub", REPO, "--source", "sim", "--out", str(out),
        "--max-disk", str(cap), "--workers", str(workers), "--download-workers", "2", *OPTIONS, "--json",
    ]  # fmt: skip


class DiskWatch(threading.Thread):
    """Polls the raw-bag folder (partial downloads and huggingface_hub's bookkeeping included) and keeps the
    largest total seen, apart for the samples that saw the file `marker` (one the test put there itself)."""

    def __init__(self, folder: Path):
        super().__init__(daemon=True)
        self.folder, self.samples = folder, 0
        self.marker = ""  # set before the file is written, and compared as each file is seen: no race
        self.peak = self.peak_with_marker = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            # By inode: a download renamed from .cache/ into place while the walk runs is seen in both folders.
            sizes: dict[tuple[int, int], int] = {}
            seen = False
            for root, _dirs, names in os.walk(self.folder):
                for name in names:
                    path = os.path.join(root, name)
                    with contextlib.suppress(OSError):  # renamed or deleted meanwhile
                        stat = os.stat(path)
                        sizes[stat.st_dev, stat.st_ino] = stat.st_size
                        seen = seen or path == self.marker
            total = sum(sizes.values())
            if seen:
                self.peak_with_marker = max(self.peak_with_marker, total)
            else:
                self.peak = max(self.peak, total)
            self.samples += 1
            time.sleep(0.005)


def _tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _staged(out: Path) -> dict[str, set[str]]:
    """Task -> keys of the episodes staged so far (each one complete: renamed into place)."""
    return {
        task.split("/")[1]: {
            p.name for p in (out / f".{task.split('/')[1]}.kuavo-convert" / "episodes").glob("*")
        }
        for task in TASKS
    }


@pytest.mark.slow
def test_pipeline_killed_midway_resumes_without_refetching(bags, hub, tmp_path: Path):
    truths, files = bags
    out = tmp_path / "icra"
    raw = out / ".kuavo-raw"
    sizes = sorted(len(v) for v in files.values())
    cap = 3 * sizes[-1]
    assert cap < sum(sizes) / 4  # the cap holds a few bags, never the lot
    env = _env(hub, tmp_path)
    hub.throttle_bps = 3_000_000  # ~0.15 s a bag: downloads overlap with conversions

    watch = DiskWatch(raw)
    watch.start()
    proc = subprocess.Popen(_cmd(out, cap, 2), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while sum(map(len, _staged(out).values())) < 5:
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the pipeline converted nothing in time"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # the main process only: its workers must die with it
        proc.wait(timeout=30)
        time.sleep(1.0)
        assert not _alive_in_group(proc.pid)  # nothing of the killed run is left running
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    sent_before_rerun = list(hub.completed)
    staged_at_kill = _staged(out)
    # A kill between staging an episode and deleting its bag leaves that bag on disk; make sure one is there,
    # so the rerun must not count on it going by itself (it is not among the bags the rerun converts).
    staged_keys = set().union(*staged_at_kill.values())
    converted_path = next(path for path in sorted(files) if remote_key(path) in staged_keys)
    left_at_kill = _tree_bytes(raw)  # no more than the cap: the killed run's samples say so (asserted below)
    watch.marker = str(raw / converted_path)  # the watch keeps the samples that see this file apart
    (raw / converted_path).parent.mkdir(parents=True, exist_ok=True)
    (raw / converted_path).write_bytes(files[converted_path])
    complete_at_kill = {p.relative_to(raw).as_posix() for p in raw.rglob("*.bag") if ".cache" not in p.parts}
    assert not (out / "TASK1-ToySorting").exists()  # no dataset before all its bags are in
    gets_before = len(hub.requests)

    done = subprocess.run(_cmd(out, cap, 1), env=env, capture_output=True, text=True, timeout=400)
    watch.stop.set()
    watch.join()
    hub.throttle_bps = None
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)

    # Never more raw bags on disk than the cap, in either run (polled from outside, and as measured inside).
    assert watch.samples > 100 and 0 < watch.peak <= cap, (watch.peak, cap)
    # The bag put back by the test can push the folder over the cap until the rerun deletes it; the rerun must
    # do that before it fetches anything: while it is there, the folder never grows.
    assert 0 < watch.peak_with_marker <= left_at_kill + len(files[converted_path]), watch.peak_with_marker
    assert summary["raw_disk_peak_bytes"] <= cap and not raw.exists()
    # No bag fetched twice: whatever was converted or fully downloaded before the kill is not requested
    # again, and no bag was sent to the end more than once over both runs.
    rerun = {p.split("/resolve/main/", 1)[-1] for m, p, _ in hub.requests[gets_before:] if "/resolve/" in p}
    reused = {path for path in files if remote_key(path) in staged_keys}
    assert reused and not (rerun & reused), rerun & reused
    assert not (rerun & complete_at_kill)
    # A body the server finished sending can still sit in the socket buffers when the client is killed: such a
    # bag (sent, yet neither on disk nor converted at the kill) is the only kind that may be sent once more.
    in_flight = {
        p for p in sent_before_rerun if p not in complete_at_kill and remote_key(p) not in staged_keys
    }
    assert len(in_flight) <= 2, in_flight  # at most the downloads running at the kill
    counts = {path: hub.completed.count(path) for path in files}
    assert all(n == 1 or (n == 2 and path in in_flight) for path, n in counts.items()), counts
    assert summary["downloads_reused"] == len(complete_at_kill - reused)

    # One v3.0 dataset per task folder, every bag in name order, no partial episode.
    datasets = summary["datasets"]
    assert set(datasets) == {"TASK1-ToySorting", "TASK2-ParcelWeighing"}
    assert [s["bag"] for s in datasets["TASK2-ParcelWeighing"]["skipped"]] == ["task2_0099.bag"]
    for task, count in TASKS.items():
        root = out / task.split("/")[1]
        info = json.loads((root / "meta" / "info.json").read_text())
        assert info["codebase_version"] == "v3.0" and info["total_episodes"] == count
        prov = json.loads((root / "meta" / "kuavo_provenance.json").read_text())
        paths = [e["source_path"] for e in prov["episodes"]]
        assert paths == sorted(p for p in truths if p.startswith(task))
        for episode, path in enumerate(paths):
            stamps, sel = expected_selection(truths[path], drop=2)
            state, action = episode_arrays(root, episode)
            want_state, want_action = expected_arrays(truths[path], sel)
            assert len(state) == len(stamps) == prov["episodes"][episode]["frames"]
            np.testing.assert_allclose(state, want_state, atol=1e-5, err_msg=path)
            np.testing.assert_allclose(action, want_action, atol=1e-5, err_msg=path)
        _check_video_lengths(root, info["total_frames"])
        assert not (out / f".{root.name}.kuavo-convert").exists()  # staging gone after the merge

    # A third run has nothing to do: nothing fetched, the datasets are left alone.
    before = len(hub.requests)
    again = subprocess.run(_cmd(out, cap, 1), env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    assert sorted(json.loads(again.stdout)["up_to_date"]) == ["TASK1-ToySorting", "TASK2-ParcelWeighing"]
    assert not [p for m, p, _ in hub.requests[before:] if "/resolve/" in p]


def _alive_in_group(pgid: int) -> list[str]:
    """Processes of a process group that still run (zombies waiting for a reaper do not count)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(f"{stat.parent.name} {(stat.parent / 'cmdline').read_bytes()[:120]!r}")
    return alive


def _check_video_lengths(root: Path, frames: int) -> None:
    import av

    for video in (root / "videos").rglob("*.mp4"):
        with av.open(str(video)) as container:
            assert sum(1 for _ in container.decode(video=0)) == frames, video


def test_cap_smaller_than_a_bag_and_flags_without_hub_are_usage_errors(bags, hub, tmp_path: Path):
    env = _env(hub, tmp_path)
    small = subprocess.run(
        _cmd(tmp_path / "o", 1000, 1), env=env, capture_output=True, text=True, timeout=120
    )
    assert small.returncode == 2 and "--max-disk" in small.stderr and "Traceback" not in small.stderr
    lonely = subprocess.run(
        [sys.executable, "-m", "kuavo_cli", "convert", "--out", str(tmp_path / "o"), "--task", "1"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert lonely.returncode == 2 and "need --hub" in lonely.stderr


@pytest.mark.slow
def test_leftover_bags_the_run_will_not_convert_do_not_count_against_the_cap(bags, hub, tmp_path: Path):
    """A bag of the repo that this run does not convert (here: task 2, with only task 1 selected; after a
    kill: a bag already converted) lies in the raw folder. The run deletes it before downloading, so it
    never sits beside a cap's worth of downloads: the cap is one bag, the leftover another."""
    _truths, files = bags
    out = tmp_path / "icra"
    raw = out / ".kuavo-raw"
    task1 = sorted(p for p in files if p.startswith("sim/TASK1"))
    cap = max(len(files[p]) for p in task1) + 4096  # one bag, plus huggingface_hub's small .metadata file
    leftover = raw / "sim/TASK2-ParcelWeighing/task2_0001.bag"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(files["sim/TASK2-ParcelWeighing/task2_0001.bag"])
    hub.throttle_bps = 3_000_000  # every download takes a while, so the poller sees it on disk
    watch = DiskWatch(raw)
    watch.start()
    cmd = [sys.executable, "-m", "kuavo_cli", "convert", "--hub", REPO, "--task", "1", "--out", str(out),
           "--max-disk", str(cap), "--workers", "1", "--download-workers", "1", *OPTIONS, "--json"]  # fmt: skip
    done = subprocess.run(cmd, env=_env(hub, tmp_path), capture_output=True, text=True, timeout=400)
    watch.stop.set()
    watch.join()
    hub.throttle_bps = None
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["datasets"]["TASK1-ToySorting"]["episodes"] == len(task1)
    # before the leftover went: it alone (<= cap); after: one download at a time (<= cap); never both
    assert watch.samples > 100 and watch.peak <= cap, (watch.peak, cap)


def test_raw_folder_size_counts_a_file_met_twice_once(tmp_path: Path):
    """huggingface_hub renames a finished download from .cache/ into place; a walk running meanwhile can meet
    it in both folders (one inode under two names, as a hard link makes it here). It is one file on disk."""
    from kuavo_cli.convert.hub_scheduler import _raw_bytes

    partial = tmp_path / ".cache" / "huggingface" / "download" / "a.bag.incomplete"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"x" * 5000)
    os.link(partial, tmp_path / "a.bag")
    (tmp_path / "b.bag").write_bytes(b"y" * 700)
    assert _raw_bytes(tmp_path) == 5700
