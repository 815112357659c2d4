"""Turn huggingface_hub / network exceptions into one-line kuavo errors, with what is already cached."""

from __future__ import annotations

from pathlib import Path

from kuavo_cli.errors import KuavoError, UsageError
from kuavo_cli.hub.settings import HubSettings
from kuavo_cli.hub.sizes import human_bytes

LOGIN_HINT = "run `hf auth login` or set HF_TOKEN to a token that can read it"


def storage_folder(cache_dir: Path, repo_id: str, repo_type: str) -> Path:
    from huggingface_hub.file_download import repo_folder_name

    return cache_dir / repo_folder_name(repo_id=repo_id, repo_type=repo_type)


def _count(files: list[Path]) -> tuple[int, int]:
    sizes = [p.stat().st_size for p in files if p.is_file()]
    return len(sizes), sum(sizes)


def cached_summary(repo_id: str, repo_type: str, settings: HubSettings, local_dir: Path | None) -> str:
    """'already here: 12 files (3.4 MB) in DIR; ...' or 'nothing of REPO is cached yet'."""
    found = []
    if local_dir is not None and local_dir.is_dir():
        files = [p for p in local_dir.rglob("*") if ".cache" not in p.relative_to(local_dir).parts]
        n, size = _count(files)
        if n:
            found.append(f"{n} files ({human_bytes(size)}) in {local_dir}")
    for cache in dict.fromkeys((settings.cache_dir, settings.lerobot_cache_dir)):
        snapshots = storage_folder(cache, repo_id, repo_type) / "snapshots"
        if snapshots.is_dir():
            n, size = _count([p.resolve() for p in snapshots.rglob("*")])
            if n:
                found.append(f"{n} files ({human_bytes(size)}) in {snapshots}")
    if not found:
        return f"nothing of {repo_id} is cached yet"
    return "already here: " + "; ".join(found)


def translate(
    err: BaseException, repo_id: str, repo_type: str, settings: HubSettings, local_dir: Path | None
) -> KuavoError:
    """The one-line error for a hub failure (exit 2 for a wrong repo id / revision, 1 otherwise)."""
    import httpx
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(err, KuavoError):
        return err
    err = _root_network_error(err) or err
    cached = cached_summary(repo_id, repo_type, settings, local_dir)
    if isinstance(err, OfflineModeIsEnabled):
        return KuavoError(
            f"offline mode is on (HF_HUB_OFFLINE=1), so {repo_id} cannot be listed or fetched; {cached}",
            "unset HF_HUB_OFFLINE to download, or use the cached files",
        )
    if isinstance(err, httpx.ConnectError | httpx.TimeoutException | ConnectionError):
        return KuavoError(
            f"cannot reach {settings.endpoint} ({type(err).__name__}: {err}); {cached}",
            "check the network / proxy, or HF_ENDPOINT if you use a mirror",
        )
    if isinstance(err, GatedRepoError):
        status = err.response.status_code if err.response is not None else "?"
        return KuavoError(
            f"{repo_id} is gated and this request is not authorised (HTTP {status})",
            f"accept its terms on {settings.endpoint}/{_url_prefix(repo_type)}{repo_id}, then {LOGIN_HINT}",
        )
    # (hub error, exit kind, message, fix), tried in order: subclasses before the classes they extend
    known: list[tuple[type[BaseException], type[KuavoError], str, str]] = [
        (RevisionNotFoundError, UsageError, f"revision not found in {repo_id}",
         "check --revision (a branch, tag or commit sha)"),
        (RepositoryNotFoundError, UsageError, f"{repo_type} repo {repo_id} not found (or it is private)",
         f"check the id (owner/name) and --repo-type; for a private repo {LOGIN_HINT}"),
        (RemoteEntryNotFoundError, KuavoError, f"a file listed by {repo_id} is missing on the hub: {err}",
         "retry; the repo may be changing"),
        (HFValidationError, UsageError, f"{repo_id!r} is not a valid repo id",
         "write it as owner/name, e.g. LejuRobotics/kuavo_data_challenge_icra"),
    ]  # fmt: skip
    for kind, error, message, fix in known:
        if isinstance(err, kind):
            return error(message, fix)
    if isinstance(err, HfHubHTTPError) and err.response is not None:
        status = err.response.status_code
        if status in (401, 403):
            return KuavoError(f"not authorised to read {repo_id} (HTTP {status})", LOGIN_HINT)
        return KuavoError(
            f"the hub answered HTTP {status} for {repo_id}: {str(err).splitlines()[0]}", "retry later"
        )
    return KuavoError(f"download of {repo_id} failed: {type(err).__name__}: {err}")


def _root_network_error(err: BaseException) -> BaseException | None:
    """hf_hub_download wraps a failed connection in LocalEntryNotFoundError; find the connection error."""
    import httpx

    seen: BaseException | None = err
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, httpx.ConnectError | httpx.TimeoutException | ConnectionError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def is_network_error(err: BaseException) -> bool:
    return _root_network_error(err) is not None


def _url_prefix(repo_type: str) -> str:
    return "" if repo_type == "model" else f"{repo_type}s/"
