"""What a hub repo holds: one listing per commit, its layout (rosbags, LeRobot dataset, plain files), its groups."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePosixPath

ROOT_GROUP = "(top level)"
LEROBOT_INFO = "meta/info.json"


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    blob_id: str  # git blob sha1 (of the LFS pointer for LFS files)
    sha256: str | None = None  # LFS files only

    @property
    def parent(self) -> str:
        parent = str(PurePosixPath(self.path).parent)
        return ROOT_GROUP if parent == "." else parent

    @property
    def is_bag(self) -> bool:
        return self.path.endswith(".bag")

    @property
    def source(self) -> str | None:
        """`sim` for files under sim/, `real` for other folders, None for top-level files."""
        if "/" not in self.path:
            return None
        return "sim" if self.path.split("/", 1)[0].lower() == "sim" else "real"


@dataclass
class RepoListing:
    repo_id: str
    repo_type: str
    revision: str
    commit: str
    files: list[RemoteFile] = field(default_factory=list)

    @property
    def kind(self) -> str:
        paths = {f.path for f in self.files}
        if LEROBOT_INFO in paths:
            return "lerobot"
        if any(f.is_bag for f in self.files):
            return "rosbag"
        return "files"

    def by_path(self) -> dict[str, RemoteFile]:
        return {f.path: f for f in self.files}


def group_of(file: RemoteFile, kind: str) -> str:
    """Rosbag / plain repos group by folder (one folder = one task); LeRobot repos by meta/data/camera."""
    if kind != "lerobot":
        return file.parent
    parts = file.path.split("/")
    if len(parts) == 1:
        return ROOT_GROUP
    if parts[0] == "videos" and len(parts) > 2:
        return f"videos/{parts[1]}"
    return parts[0]


def summarise_groups(files: list[RemoteFile], kind: str) -> list[dict]:
    """[{group, files, bytes, bags}] sorted by group name, the top-level group first."""
    acc: dict[str, dict] = defaultdict(lambda: {"files": 0, "bytes": 0, "bags": 0})
    for f in files:
        g = acc[group_of(f, kind)]
        g["files"] += 1
        g["bytes"] += f.size
        g["bags"] += int(f.is_bag)
    order = sorted(acc, key=lambda name: (name != ROOT_GROUP, name))
    return [{"group": name, **acc[name]} for name in order]


def list_remote(api, repo_id: str, repo_type: str, revision: str | None) -> RepoListing:
    """Resolve the revision to a commit, then list every file at that commit (sizes, blob ids, LFS sha256)."""
    from huggingface_hub.hf_api import RepoFile

    info = api.repo_info(repo_id, repo_type=repo_type, revision=revision)
    commit = info.sha
    files = []
    for entry in api.list_repo_tree(repo_id, repo_type=repo_type, revision=commit, recursive=True):
        if isinstance(entry, RepoFile):
            sha256 = entry.lfs.sha256 if entry.lfs is not None else None
            files.append(RemoteFile(entry.path, int(entry.size), entry.blob_id, sha256))
    files.sort(key=lambda f: f.path)
    return RepoListing(repo_id, repo_type, revision or "main", commit, files)
