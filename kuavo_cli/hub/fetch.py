"""Run a download plan with huggingface_hub's `hf_hub_download`, in parallel, then verify what arrived.

Resuming: files already complete at the target (right size) are not requested again; hf_hub_download writes
each file to a temp name and renames it when complete, so a killed run never leaves a half file in place.
Verification: size always; sha256 for LFS files and the git blob sha1 for the others, as the hub lists them.
"""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from kuavo_cli.errors import KuavoError
from kuavo_cli.hub.errors import is_network_error, storage_folder, translate
from kuavo_cli.hub.listing import RemoteFile, RepoListing
from kuavo_cli.hub.plan import DownloadPlan
from kuavo_cli.hub.progress import Cancelled, DownloadProgress
from kuavo_cli.hub.settings import HubSettings
from kuavo_cli.hub.sizes import human_bytes
from kuavo_cli.utils.atomic import write_text


@dataclass
class DownloadResult:
    fetched: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    bytes_fetched: int = 0
    verified: int = 0
    seconds: float = 0.0


def _hf_download(
    listing: RepoListing, settings: HubSettings, path: str, local_dir, cache_dir, bar=None
) -> Path:
    from huggingface_hub import hf_hub_download

    return Path(
        hf_hub_download(
            listing.repo_id,
            path,
            repo_type=listing.repo_type,
            revision=listing.commit,
            local_dir=local_dir,
            cache_dir=cache_dir,
            endpoint=settings.endpoint,
            tqdm_class=bar,
        )
    )


def _silent_bar(*args, **kwargs):
    from huggingface_hub.utils.tqdm import silent_tqdm

    return silent_tqdm()


def fetch_quietly(
    listing: RepoListing, settings: HubSettings, paths: list[str], local_dir, cache_dir
) -> None:
    """Small files needed for planning (LeRobot meta/): no progress bars."""
    try:
        for path in paths:
            _hf_download(listing, settings, path, local_dir, cache_dir, bar=_silent_bar)
    except Exception as err:
        raise translate(err, listing.repo_id, listing.repo_type, settings, local_dir) from err
    if local_dir is None:
        _record_ref(cache_dir, listing)


def file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        if algo == "sha1":  # git blob id: sha1("blob <size>\0" + content)
            h.update(b"blob %d\0" % path.stat().st_size)
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: Path, remote: RemoteFile, hashes: bool) -> str | None:
    """None when the file matches what the hub lists, else the reason."""
    size = path.stat().st_size
    if size != remote.size:
        return f"size {size} != {remote.size} listed by the hub"
    if not hashes:
        return None
    if remote.sha256:
        got = file_digest(path, "sha256")
        return (
            None if got == remote.sha256 else f"sha256 {got[:12]}… != {remote.sha256[:12]}… listed by the hub"
        )
    got = file_digest(path, "sha1")
    return None if got == remote.blob_id else f"git blob id {got[:12]}… != {remote.blob_id[:12]}…"


def _discard(path: Path, plan: DownloadPlan, remote: RemoteFile) -> None:
    """Remove a bad file (and huggingface_hub's record of it) so the next run fetches it again."""
    real = path.resolve()
    path.unlink(missing_ok=True)
    if real != path:
        real.unlink(missing_ok=True)
    if plan.local_dir is not None:
        meta = plan.target / ".cache" / "huggingface" / "download" / f"{remote.path}.metadata"
        meta.unlink(missing_ok=True)


def _record_ref(cache_dir: Path, listing: RepoListing) -> None:
    """Point refs/<revision> at the commit, as huggingface_hub does, so offline lookups by branch name work."""
    if listing.revision == listing.commit:
        return
    ref = storage_folder(cache_dir, listing.repo_id, listing.repo_type) / "refs" / listing.revision
    write_text(ref, listing.commit)


def _partial_location(plan: DownloadPlan, remote: RemoteFile) -> tuple[Path, Path, str]:
    """(lock file, folder, glob) of huggingface_hub's temp files for one file (its cache or local-dir layout)."""
    etag = remote.sha256 or remote.blob_id
    if plan.local_dir is None:
        storage = storage_folder(plan.cache_dir, plan.listing.repo_id, plan.listing.repo_type)
        return (
            plan.cache_dir / ".locks" / storage.name / f"{etag}.lock",
            storage / "blobs",
            f"{etag}*.incomplete",
        )
    from huggingface_hub._local_folder import get_local_download_paths  # private; callers guard

    paths = get_local_download_paths(plan.target, remote.path)
    return paths.lock_path, paths.metadata_path.parent, f"*.{etag}*.incomplete"


def clean_stale_partials(plan: DownloadPlan) -> int:
    """Delete temp files a killed run left behind (those whose lock nobody holds); returns how many."""
    from filelock import Timeout
    from huggingface_hub.utils import WeakFileLock

    removed = 0
    for planned in plan.to_fetch:
        try:
            lock, folder, pattern = _partial_location(plan, planned.remote)
        except Exception:  # layout helpers moved in a newer huggingface_hub: leave the files alone
            return removed
        stale = list(folder.glob(pattern)) if folder.is_dir() else []
        if not stale:
            continue
        try:
            with WeakFileLock(lock, timeout=0.05):
                for path in stale:
                    path.unlink(missing_ok=True)
                    removed += 1
        except Timeout:  # another process is downloading this file right now
            continue
    return removed


def execute(
    plan: DownloadPlan, settings: HubSettings, console, max_workers: int = 8, verify: bool = True
) -> DownloadResult:
    """Download every missing file of the plan; raise one KuavoError (exit 1) naming the failures."""
    result = DownloadResult(present=[f.remote.path for f in plan.files if f.present])
    todo = plan.to_fetch
    started = time.monotonic()
    listing = plan.listing
    cache_dir = plan.cache_dir

    def one(remote: RemoteFile) -> tuple[RemoteFile, Path]:
        progress.start_file(remote.path, remote.size)
        path = _hf_download(
            listing, settings, remote.path, plan.local_dir, cache_dir, progress.bar_class(remote.path)
        )
        return remote, path

    removed = clean_stale_partials(plan)
    if removed:
        console.print(f"removed {removed} partial file(s) left by an interrupted run", highlight=False)
    fatal: BaseException | None = None
    with DownloadProgress(console, len(todo), plan.bytes_to_fetch) as progress:
        pool = ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="kuavo-dl")
        try:
            futures = {pool.submit(one, r.remote): r.remote for r in todo}
            for future in as_completed(futures):
                remote = futures[future]
                try:
                    _, path = future.result()
                except Cancelled:
                    continue
                except Exception as err:
                    reason = translate(err, listing.repo_id, listing.repo_type, settings, plan.local_dir)
                    result.failed.append((remote.path, reason.message))
                    progress.finish_file(remote.path, remote.size, ok=False, note=reason.message)
                    if _is_fatal(err):  # no point trying the other files
                        fatal = reason
                        progress.cancel.set()
                    continue
                problem = verify_file(path, remote, hashes=verify)
                if problem:
                    _discard(path, plan, remote)
                    result.failed.append((remote.path, problem))
                    progress.finish_file(remote.path, remote.size, ok=False, note=problem)
                    continue
                result.fetched.append(remote.path)
                result.bytes_fetched += remote.size
                result.verified += int(verify)
                progress.finish_file(remote.path, remote.size, ok=True)
        except KeyboardInterrupt:
            progress.cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    if plan.local_dir is None and result.fetched:
        _record_ref(cache_dir, listing)
    result.seconds = time.monotonic() - started
    if fatal is not None:
        raise fatal if isinstance(fatal, KuavoError) else KuavoError(str(fatal))
    if result.failed:
        first, why = result.failed[0]
        more = f" (and {len(result.failed) - 1} more)" if len(result.failed) > 1 else ""
        raise KuavoError(
            f"{len(result.failed)} of {len(todo)} files failed: {first}: {why}{more}; "
            f"{len(result.fetched)} fetched ({human_bytes(result.bytes_fetched)}) are kept",
            "run the same command again to retry only the missing files",
        )
    return result


def _is_fatal(err: BaseException) -> bool:
    """Errors that every other file would hit too: stop instead of failing them one by one."""
    from huggingface_hub.errors import GatedRepoError, OfflineModeIsEnabled, RepositoryNotFoundError

    return isinstance(
        err, OfflineModeIsEnabled | GatedRepoError | RepositoryNotFoundError
    ) or is_network_error(err)
