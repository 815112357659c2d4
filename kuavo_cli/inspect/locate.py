"""What is this path (dataset, rosbags, training run)? And where is a cached hub repo on disk?"""

from __future__ import annotations

import re
from pathlib import Path

from kuavo_cli.errors import UsageError
from kuavo_cli.inspect.run import is_run_folder

REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def kind_of(path: Path) -> str:
    """'dataset', 'rosbags' or 'run'; UsageError (exit 2) for anything else."""
    if path.is_file():
        if path.suffix == ".bag":
            return "rosbags"
        raise UsageError(
            f"{path} is a file, not a dataset, bag folder or run", "pass the folder that holds it"
        )
    if (path / "meta" / "info.json").is_file() or (path / "meta").is_dir() and (path / "data").is_dir():
        return "dataset"  # a dataset with a missing info.json is reported as such by the dataset loader
    if is_run_folder(path):
        return "run"
    if any(path.glob("*.bag")) or any(path.rglob("*.bag")):
        return "rosbags"
    if (path / "meta").is_dir():
        return "dataset"
    raise UsageError(
        f"{path} is not a LeRobot dataset, a folder of rosbags or a training run",
        "pass a dataset root (with meta/info.json), a folder of .bag files, or a run folder (with checkpoints/)",
    )


def cached_repo(repo_id: str, revision: str | None = None) -> Path | None:
    """The newest local copy of a hub dataset: lerobot's home, lerobot's snapshot cache, then the hub cache."""
    from kuavo_cli.hub.errors import storage_folder
    from kuavo_cli.hub.settings import hub_settings

    settings = hub_settings()
    home = settings.lerobot_cache_dir.parent / repo_id
    if revision is None and (home / "meta" / "info.json").is_file():
        return home
    for cache in dict.fromkeys((settings.lerobot_cache_dir, settings.cache_dir)):
        storage = storage_folder(cache, repo_id, "dataset")
        ref = storage / "refs" / (revision or "main")
        if ref.is_file():
            snap = storage / "snapshots" / ref.read_text().strip()
            if snap.is_dir():
                return snap
        snaps = storage / "snapshots"
        if snaps.is_dir():
            candidates = [
                s for s in snaps.iterdir() if s.is_dir() and (revision is None or s.name.startswith(revision))
            ]
            if candidates:
                return max(candidates, key=lambda s: s.stat().st_mtime)
    return None


def resolve_target(target: str, revision: str | None = None) -> tuple[Path, str | None]:
    """(local path, repo id or None). A repo id must already be downloaded: inspect never fetches."""
    path = Path(target).expanduser()
    if path.exists():
        return path.resolve(), None
    if REPO_ID.match(target):
        found = cached_repo(target, revision)
        if found is None:
            raise UsageError(
                f"{target} is not a local path and is not in the local cache",
                f"download it first: kuavo download {target} (inspect never downloads)",
            )
        return found, target
    raise UsageError(
        f"{target} does not exist", "pass a dataset folder, a rosbag folder, a run folder or a cached repo id"
    )
