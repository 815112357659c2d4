"""From a request (repo, filters, target) to a plan: which files, where they go, which are already there."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kuavo_cli.errors import KuavoError, UsageError
from kuavo_cli.hub.errors import storage_folder, translate
from kuavo_cli.hub.filters import FileFilter
from kuavo_cli.hub.lerobot_repo import meta_files, select_lerobot_files
from kuavo_cli.hub.listing import RemoteFile, RepoListing, list_remote, summarise_groups
from kuavo_cli.hub.settings import DEFAULT_REPO, REPO_TYPES, HubSettings, make_api
from kuavo_cli.hub.sizes import human_bytes
from kuavo_cli.hub.transfer import fetch_quietly


@dataclass
class DownloadRequest:
    repo_id: str = DEFAULT_REPO
    repo_type: str = "dataset"
    revision: str | None = None
    local_dir: Path | None = None
    filters: FileFilter = field(default_factory=FileFilter)


@dataclass(frozen=True)
class PlannedFile:
    remote: RemoteFile
    local_path: Path
    present: bool


@dataclass
class DownloadPlan:
    listing: RepoListing
    files: list[PlannedFile]
    target: Path  # where the files land: --local-dir, or the cache snapshot folder
    local_dir: Path | None
    cache_dir: Path
    filters: FileFilter
    lerobot: dict | None = None

    @property
    def kind(self) -> str:
        return self.listing.kind

    @property
    def to_fetch(self) -> list[PlannedFile]:
        return [f for f in self.files if not f.present]

    @property
    def bytes_total(self) -> int:
        return sum(f.remote.size for f in self.files)

    @property
    def bytes_to_fetch(self) -> int:
        return sum(f.remote.size for f in self.to_fetch)

    def to_dict(self) -> dict:
        return {
            "repo_id": self.listing.repo_id,
            "repo_type": self.listing.repo_type,
            "revision": self.listing.revision,
            "commit": self.listing.commit,
            "kind": self.kind,
            "target": str(self.target),
            "filters": self.filters.describe(),
            "files": len(self.files),
            "bytes": self.bytes_total,
            "files_present": len(self.files) - len(self.to_fetch),
            "files_to_fetch": len(self.to_fetch),
            "bytes_to_fetch": self.bytes_to_fetch,
            "groups": summarise_groups([f.remote for f in self.files], self.kind),
            "lerobot": self.lerobot,
            "paths": [
                {"path": f.remote.path, "size": f.remote.size, "present": f.present} for f in self.files
            ],
        }


def check_repo_id(repo_id: str, repo_type: str) -> None:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if repo_type not in REPO_TYPES:
        raise UsageError(f"--repo-type {repo_type!r}: must be one of {', '.join(REPO_TYPES)}")
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise UsageError(
            f"{repo_id!r} is not a valid repo id",
            "write it as owner/name, e.g. LejuRobotics/kuavo_data_challenge_icra",
        ) from None
    if "/" not in repo_id:
        raise UsageError(f"{repo_id!r} is not a valid repo id: owner missing", "write it as owner/name")


def fetch_listing(request: DownloadRequest, settings: HubSettings) -> RepoListing:
    """List the repo at the requested revision; hub errors come back as one-line kuavo errors."""
    from huggingface_hub.errors import OfflineModeIsEnabled

    check_repo_id(request.repo_id, request.repo_type)
    try:
        if settings.offline:
            raise OfflineModeIsEnabled("HF_HUB_OFFLINE is set")
        return list_remote(make_api(settings), request.repo_id, request.repo_type, request.revision)
    except Exception as err:
        raise translate(err, request.repo_id, request.repo_type, settings, request.local_dir) from err


def target_for(listing: RepoListing, settings: HubSettings, local_dir: Path | None) -> tuple[Path, Path]:
    """(target folder, cache dir). LeRobot repos default to lerobot's own snapshot cache, others to the hub's."""
    cache_dir = settings.lerobot_cache_dir if listing.kind == "lerobot" else settings.cache_dir
    if local_dir is not None:
        return local_dir.expanduser().resolve(), settings.cache_dir
    return storage_folder(
        cache_dir, listing.repo_id, listing.repo_type
    ) / "snapshots" / listing.commit, cache_dir


def build_plan(
    request: DownloadRequest, settings: HubSettings, listing: RepoListing, scratch_meta: bool
) -> DownloadPlan:
    """Select files. LeRobot repos with --episodes/--task first fetch meta/ (into a temp dir when scratch_meta)."""
    filters = request.filters
    target, cache_dir = target_for(listing, settings, request.local_dir)
    lerobot = None
    if listing.kind == "lerobot":
        if filters.source is not None:
            raise UsageError("--source applies to rosbag repos; this is a LeRobot dataset", "drop --source")
        path_filter = FileFilter(include=filters.include, exclude=filters.exclude)
        if filters.episodes is not None or filters.tasks:
            meta = meta_files(listing.files)
            scratch = Path(tempfile.mkdtemp(prefix="kuavo-meta-")) if scratch_meta else None
            try:
                meta_root = scratch or target
                fetch_quietly(
                    listing, settings, [m.path for m in meta], scratch or request.local_dir, cache_dir
                )
                chosen, lerobot = select_lerobot_files(
                    listing.files, meta_root, filters.episodes, filters.tasks
                )
            finally:
                if scratch is not None:
                    shutil.rmtree(scratch, ignore_errors=True)
            selected = path_filter.select(chosen) if path_filter.active else chosen
        else:
            selected = path_filter.select(listing.files)
    else:
        selected = filters.select(listing.files)
    if not selected:
        raise UsageError(
            f"no file in {listing.repo_id} matches {filters.describe()}",
            "run `kuavo download --list` to see the folders and their files",
        )
    planned = []
    for remote in selected:
        local = target / remote.path
        present = local.is_file() and local.stat().st_size == remote.size
        planned.append(PlannedFile(remote, local, present))
    return DownloadPlan(listing, planned, target, request.local_dir, cache_dir, filters, lerobot)


def free_space(path: Path) -> int:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def check_disk_space(plan: DownloadPlan) -> None:
    need = plan.bytes_to_fetch
    where = plan.local_dir.expanduser().resolve() if plan.local_dir is not None else plan.cache_dir
    free = free_space(where)
    if need > free:
        raise KuavoError(
            f"not enough disk space in {where}: {human_bytes(need)} to download, {human_bytes(free)} free",
            "free some space, pick --local-dir on a bigger disk, or narrow the selection (--task, --episodes)",
        )
