"""`kuavo download` against a loopback hub (tests/hub_server.py) with the real huggingface_hub client."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.cli_helpers import run_cli
from tests.hub_server import HubServer

CHALLENGE = "LejuRobotics/kuavo_data_challenge_icra"
TASK_DIRS = ["sim/TASK1-ToySorting", "sim/TASK2-ParcelWeighing", "sim/TASK3-ConveyorBeltSorting"]


def _bytes(seed: int, n: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def challenge_files() -> dict[str, bytes]:
    files = {"README.md": b"# Kuavo data challenge (test copy)\n", ".gitattributes": b"*.bag filter=lfs\n"}
    for t, folder in enumerate(TASK_DIRS, start=1):
        for i in range(5):
            files[f"{folder}/task{t}_{i:04d}.bag"] = _bytes(t * 100 + i, 2000 + 100 * t + i)
    files["real/bottle/bottle_0001.bag"] = _bytes(7, 1500)
    files["real/bottle/bottle_0002.bag"] = _bytes(8, 1600)
    return files


def build_lerobot_repo(root: Path) -> Path:
    """4 episodes x 5 frames, one camera, one data/video file per episode (so episode selection matters)."""
    from lerobot.datasets import LeRobotDataset

    from kuavo_cli.data.schema import kuavo_features
    from kuavo_cli.utils.logs import quiet_logs

    features = {
        k: v for k, v in kuavo_features((32, 32)).items() if not k.endswith(("wrist_cam_l", "wrist_cam_r"))
    }
    with quiet_logs():
        ds = LeRobotDataset.create(
            repo_id="org/small", fps=10, features=features, root=root, robot_type="kuavo4pro"
        )
        ds.meta.update_chunk_settings(data_files_size_in_mb=0.001, video_files_size_in_mb=0.001)
        for ep in range(4):
            for i in range(5):
                q = np.full(16, 0.01 * (ep * 5 + i), np.float32)
                img = np.full((32, 32, 3), 40 * ep, np.uint8)
                ds.add_frame(
                    {
                        "observation.state": q,
                        "action": q,
                        "task": "sort",
                        "observation.images.head_cam_h": img,
                    }
                )
            ds.save_episode(parallel_encoding=False)
        ds.finalize()
    return root


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    server = HubServer(page_size=7)  # several pages per listing: exercises pagination
    server.add_repo(CHALLENGE, challenge_files())
    server.add_repo("LejuRobotics/gated", {"data/a.bag": _bytes(1, 500)}, gated=True, tokens={"hf_good"})
    server.add_repo("org/private", {"a.txt": b"secret"}, private=True, tokens={"hf_good"})
    server.add_repo("org/huge", {"big/blob.bag": _bytes(2, 100)}, reported_sizes={"big/blob.bag": 2**60})
    server.add_repo("org/corrupt", {"x/a.bag": _bytes(3, 300)}, reported_sha256={"x/a.bag": "0" * 64})
    server.add_repo("org/resume", {f"bags/r_{i}.bag": _bytes(50 + i, 120_000) for i in range(3)})
    server.add_folder("org/small", build_lerobot_repo(tmp_path_factory.mktemp("lerobot") / "small"))
    with server:
        yield server


@pytest.fixture
def hub_env(hub, tmp_path, monkeypatch):
    """Point huggingface_hub at the loopback hub, online, with a private HF_HOME per test."""
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    env = {
        "HF_ENDPOINT": hub.url,
        "HF_HUB_OFFLINE": "0",
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_HUB_DISABLE_XET": "1",
        "NO_COLOR": "1",
    }
    for key in ("HF_HUB_CACHE", "HF_LEROBOT_HOME", "HF_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    hub.requests.clear()
    return env


def _json(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _gets(hub: HubServer) -> list[str]:
    return [p for m, p, _ in hub.requests if m == "GET" and "/resolve/" in p]


def _one_error_line(result) -> str:
    lines = [ln for ln in result.stderr.strip().splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_list_shows_groups_with_counts_and_sizes_and_fetches_nothing(hub, hub_env):
    out = _json(run_cli("download", "--list", "--json"))
    files = challenge_files()
    assert (
        out["kind"] == "rosbag"
        and out["files"] == len(files)
        and out["bytes"] == sum(map(len, files.values()))
    )
    groups = {g["group"]: g for g in out["groups"]}
    assert groups["sim/TASK2-ParcelWeighing"]["bags"] == 5
    assert groups["sim/TASK2-ParcelWeighing"]["bytes"] == sum(
        len(v) for k, v in files.items() if "TASK2" in k
    )
    assert groups["real/bottle"]["files"] == 2 and groups["(top level)"]["files"] == 2
    assert _gets(hub) == []
    human = run_cli("download", "--list")
    assert (
        human.exit_code == 0
        and "sim/TASK3-ConveyorBeltSorting" in human.stdout
        and "Nothing was downloaded" in human.stdout
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--task", "1", "--episodes", "0-1,4"], ["task1_0000", "task1_0001", "task1_0004"]),
        (["--task", "ParcelWeighing", "--episodes", "3"], ["task2_0003"]),
        (["--source", "real"], ["bottle_0001", "bottle_0002"]),
        (["--task", "3", "--include", "*_000[12].bag"], ["task3_0001", "task3_0002"]),
        (["--task", "1", "--task", "2", "--exclude", "*000[0-3].bag"], ["task1_0004", "task2_0004"]),
    ],
)
def test_dry_run_applies_filters_and_sizes(hub, hub_env, tmp_path, args, expected):
    out = _json(run_cli("download", *args, "--dry-run", "--local-dir", str(tmp_path / "dl"), "--json"))
    files = challenge_files()
    names = [Path(p["path"]).stem for p in out["paths"]]
    assert names == expected
    assert out["bytes"] == out["bytes_to_fetch"] == sum(len(files[p["path"]]) for p in out["paths"])
    assert out["files_to_fetch"] == len(expected) and out["free_bytes"] > 0
    assert not (tmp_path / "dl").exists() and _gets(hub) == []


def test_download_verifies_resumes_and_reports(hub, hub_env, tmp_path):
    dest = tmp_path / "raw"
    first = run_cli("download", "--task", "2", "--local-dir", str(dest), "--max-workers", "3", "--json")
    out = _json(first)
    files = challenge_files()
    wanted = sorted(p for p in files if "TASK2" in p)
    assert (
        out["files_fetched"] == 5
        and out["verified"] == 5
        and out["bytes_fetched"] == sum(len(files[p]) for p in wanted)
    )
    for p in wanted:
        assert (dest / p).read_bytes() == files[p]
    assert first.stderr.count(" fetched ") == 5 and "[5/5]" in first.stderr  # per-file progress lines
    gets = len(_gets(hub))
    again = run_cli("download", "--task", "2", "--local-dir", str(dest))
    assert again.exit_code == 0 and "0 files fetched" in again.stdout and "5 already present" in again.stdout
    assert len(_gets(hub)) == gets  # nothing fetched twice


def test_download_into_cache_records_ref_and_live_progress(hub, hub_env):
    from rich.console import Console

    from kuavo_cli.hub.api import DownloadRequest, FileFilter, run_download

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    request = DownloadRequest(CHALLENGE, filters=FileFilter(tasks=["3"], episodes=[0, 1]))
    out = run_download(request, "download", console, max_workers=2)
    snapshot = Path(out["target"])
    assert snapshot.parent.name == "snapshots" and snapshot.name == out["commit"]
    assert sorted(p.name for p in snapshot.rglob("*.bag")) == ["task3_0000.bag", "task3_0001.bag"]
    ref = snapshot.parents[1] / "refs" / "main"
    assert ref.read_text() == out["commit"]
    rendered = buffer.getvalue()
    assert "total (2/2 files)" in rendered and "task3_0001.bag" in rendered


def test_resume_after_killed_download(hub, hub_env, tmp_path):
    dest = tmp_path / "resume"
    hub.throttle_bps = 200_000  # 120 kB files: ~0.6 s each, slow enough to kill mid-file
    env = {**os.environ, **hub_env}
    cmd = [
        sys.executable,
        "-m",
        "kuavo_cli",
        "download",
        "org/resume",
        "--local-dir",
        str(dest),
        "--max-workers",
        "1",
    ]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        # Kill once one file is complete (it appears by atomic rename) and the next one is in flight.
        while not (any((dest / "bags").glob("*.bag")) and any(dest.rglob("*.incomplete"))):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "download did not start"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        hub.throttle_bps = None
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    done = sorted(p.name for p in (dest / "bags").glob("*.bag"))
    assert 1 <= len(done) < 3, done
    partial = list((dest / ".cache").rglob("*.incomplete"))
    assert partial and all(p.stat().st_size < 120_000 for p in partial)  # killed while a file was in flight
    before = {f"bags/{n}": hub.file_gets(f"bags/{n}") for n in done}
    out = _json(run_cli("download", "org/resume", "--local-dir", str(dest), "--json"))
    assert out["files_skipped"] == len(done) and out["files_fetched"] == 3 - len(done)
    for path, count in before.items():
        assert hub.file_gets(path) == count  # complete files were not fetched again
    assert not list(dest.rglob("*.incomplete"))  # the killed run's temp file was cleaned up
    repo = hub.repos[("dataset", "org/resume")]
    for path, data in repo.files.items():
        assert hashlib.sha256((dest / path).read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()


def test_lerobot_repo_fetches_only_chosen_episodes_then_inspect_by_repo_id(hub, hub_env):
    out = _json(run_cli("download", "org/small", "--episodes", "1-2", "--json"))
    assert out["kind"] == "lerobot" and out["lerobot"]["episodes"] == [1, 2]
    paths = {p["path"] for p in out["paths"]}
    assert {"data/chunk-000/file-001.parquet", "data/chunk-000/file-002.parquet"} <= paths
    assert "data/chunk-000/file-000.parquet" not in paths and "data/chunk-000/file-003.parquet" not in paths
    assert "videos/observation.images.head_cam_h/chunk-000/file-002.mp4" in paths
    assert not any(p.endswith("file-003.mp4") for p in paths) and "meta/info.json" in paths
    assert "lerobot" in out["target"]  # lerobot's own snapshot cache, where LeRobotDataset looks
    assert not any("file-000.parquet" in g or "file-003" in g for g in _gets(hub) if "/data/" in g)
    report = _json(run_cli("inspect", "org/small", "--json"))
    assert report["repo_id"] == "org/small" and report["episodes"] == 4 and report["episodes_local"] == 2
    assert any(c["code"] == "partial" for c in report["checks"])


def test_uploaded_folder_downloads_back_identical(hub, hub_env, tmp_path):
    """The loopback hub also takes uploads (create_repo + upload_folder), e.g. for `kuavo export` tests."""
    from huggingface_hub import HfApi

    src = tmp_path / "bundle"
    (src / "pretrained_model").mkdir(parents=True)
    (src / "pretrained_model" / "config.json").write_text('{"type": "act"}')
    (src / "README.md").write_text("# policy\n")
    api = HfApi(endpoint=hub.url, token="hf_good")
    api.create_repo("org/uploaded", repo_type="model")
    api.upload_folder(repo_id="org/uploaded", folder_path=src, repo_type="model")
    out = _json(
        run_cli(
            "download",
            "org/uploaded",
            "--repo-type",
            "model",
            "--local-dir",
            str(tmp_path / "back"),
            "--json",
        )
    )
    assert out["files_fetched"] == 2 and out["kind"] == "files"
    assert (tmp_path / "back" / "pretrained_model" / "config.json").read_text() == '{"type": "act"}'


def test_not_found_and_bad_input_exit_2(hub, hub_env):
    missing = run_cli("download", "org/does-not-exist", "--list")
    assert missing.exit_code == 2 and "not found" in _one_error_line(missing)
    for args, word in [
        (["not a repo id", "--list"], "valid repo id"),
        (["--episodes", "3-1", "--dry-run"], "--episodes"),
        (["--task", "7", "--dry-run"], "--task 7"),
        (["--source", "moon", "--dry-run"], "--source"),
        (["--task", "NoSuchTask", "--dry-run"], "no file"),
        (["--revision", "nope", "--list"], "revision"),
    ]:
        result = run_cli("download", *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert word in _one_error_line(result)


def test_gated_repo_explains_how_to_log_in(hub, hub_env, tmp_path):
    listed = _json(run_cli("download", "LejuRobotics/gated", "--list", "--json"))  # the tree is public
    assert listed["files"] == 1
    anon = run_cli("download", "LejuRobotics/gated", "--local-dir", str(tmp_path / "g"))
    line = _one_error_line(anon)
    assert anon.exit_code == 1 and "gated" in line and "hf auth login" in line and "HF_TOKEN" in line
    wrong = run_cli(
        "download", "LejuRobotics/gated", "--local-dir", str(tmp_path / "g"), env={"HF_TOKEN": "hf_wrong"}
    )
    assert wrong.exit_code == 1 and "HTTP 403" in _one_error_line(wrong)
    ok = run_cli(
        "download",
        "LejuRobotics/gated",
        "--local-dir",
        str(tmp_path / "g"),
        "--json",
        env={"HF_TOKEN": "hf_good"},
    )
    assert _json(ok)["files_fetched"] == 1 and (tmp_path / "g" / "data" / "a.bag").is_file()
    private = run_cli("download", "org/private", "--list")
    assert private.exit_code == 2 and "or it is private" in _one_error_line(private)
    assert (
        _json(run_cli("download", "org/private", "--list", "--json", env={"HF_TOKEN": "hf_good"}))["files"]
        == 1
    )


def test_offline_and_unreachable_hub_say_so_and_show_the_cache(hub, hub_env, tmp_path):
    dest = tmp_path / "raw"
    _json(run_cli("download", "--task", "1", "--episodes", "0-2", "--local-dir", str(dest), "--json"))
    offline = run_cli("download", "--task", "1", "--local-dir", str(dest), env={"HF_HUB_OFFLINE": "1"})
    line = _one_error_line(offline)
    assert offline.exit_code == 1 and "HF_HUB_OFFLINE" in line and "3 files" in line and str(dest) in line
    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    down = run_cli("download", "--list", env={"HF_ENDPOINT": dead_url})
    line = _one_error_line(down)
    assert down.exit_code == 1 and "cannot reach" in line and "nothing of" in line


def test_connection_lost_during_download_reads_as_unreachable(tmp_path):
    """hf_hub_download reports a dead connection as LocalEntryNotFoundError; we still say 'cannot reach'."""
    import httpx
    from huggingface_hub.errors import LocalEntryNotFoundError

    from kuavo_cli.hub.errors import translate
    from kuavo_cli.hub.settings import HubSettings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        httpx.head(url)
    except httpx.ConnectError as refused:
        try:
            raise LocalEntryNotFoundError("An error happened while trying to locate the file") from refused
        except LocalEntryNotFoundError as wrapped:
            err = wrapped
    settings = HubSettings(url, tmp_path / "hub", tmp_path / "lerobot", offline=False)
    message = translate(err, "org/x", "dataset", settings, None).one_line()
    assert (
        message.startswith(f"cannot reach {url} (ConnectError")
        and "nothing of org/x is cached yet" in message
    )


def test_disk_space_is_checked_before_anything_is_fetched(hub, hub_env, tmp_path):
    dest = tmp_path / "huge"
    result = run_cli("download", "org/huge", "--local-dir", str(dest))
    line = _one_error_line(result)
    assert result.exit_code == 1 and "not enough disk space" in line
    assert "1024.0 PiB to download" in line and _gets(hub) == [] and not dest.exists()


def test_hash_mismatch_is_reported_and_the_file_removed(hub, hub_env, tmp_path):
    dest = tmp_path / "corrupt"
    result = run_cli("download", "org/corrupt", "--local-dir", str(dest))
    line = _one_error_line(result)
    assert result.exit_code == 1 and "sha256" in line and "x/a.bag" in line
    assert not (dest / "x" / "a.bag").exists()
