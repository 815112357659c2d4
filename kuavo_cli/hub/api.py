"""`kuavo download` as a library: a request from plain arguments, then list, plan or fetch it."""

from __future__ import annotations

from pathlib import Path

from kuavo_cli.errors import UsageError
from kuavo_cli.hub.filters import FileFilter, parse_episodes
from kuavo_cli.hub.plan import DownloadRequest
from kuavo_cli.hub.settings import DEFAULT_REPO, hub_settings

__all__ = ["DEFAULT_REPO", "DownloadRequest", "FileFilter", "make_request", "parse_episodes", "run_download"]

MODES = ("list", "dry-run", "download")


def make_request(
    repo_id: str = DEFAULT_REPO,
    *,
    tasks: list[str] | None = None,
    source: str | None = None,
    episodes: str | list[int] | None = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    revision: str | None = None,
    local_dir: Path | None = None,
    repo_type: str = "dataset",
) -> DownloadRequest:
    """What to fetch: `episodes` as text ('0-9,20') or indices; the other filters as the flags take them."""
    filters = FileFilter(
        tasks=list(tasks or []),
        source=source,
        episodes=parse_episodes(episodes) if isinstance(episodes, str | None) else sorted(set(episodes)),
        include=list(include or []),
        exclude=list(exclude or []),
    )
    return DownloadRequest(repo_id, repo_type, revision, local_dir, filters)


def run_download(
    request: DownloadRequest, mode: str, console, max_workers: int = 8, verify: bool = True
) -> dict:
    """mode: "list" (groups, nothing fetched), "dry-run" (the plan, nothing written) or "download"."""
    if mode not in MODES:
        raise UsageError(f"mode {mode!r}: use one of {', '.join(MODES)}")
    if max_workers < 1:
        raise UsageError(f"--max-workers must be >= 1 (got {max_workers})")
    from kuavo_cli.hub.fetch import execute
    from kuavo_cli.hub.listing import summarise_groups
    from kuavo_cli.hub.plan import build_plan, check_disk_space, fetch_listing, free_space

    settings = hub_settings()
    listing = fetch_listing(request, settings)
    if mode == "list":
        files = listing.files
        if listing.kind != "lerobot" and request.filters.active:
            files = request.filters.select(files)
        return {
            "mode": "list",
            "repo_id": listing.repo_id,
            "repo_type": listing.repo_type,
            "revision": listing.revision,
            "commit": listing.commit,
            "kind": listing.kind,
            "filters": request.filters.describe(),
            "files": len(files),
            "bytes": sum(f.size for f in files),
            "groups": summarise_groups(files, listing.kind),
        }
    plan = build_plan(request, settings, listing, scratch_meta=(mode == "dry-run"))
    out = {"mode": mode, **plan.to_dict()}
    where = plan.local_dir.expanduser().resolve() if plan.local_dir is not None else plan.cache_dir
    out["free_bytes"] = free_space(where)
    if mode == "dry-run":
        return out
    check_disk_space(plan)
    result = execute(plan, settings, console, max_workers=max_workers, verify=verify)
    out.update(
        files_fetched=len(result.fetched),
        bytes_fetched=result.bytes_fetched,
        files_skipped=len(result.present),
        verified=result.verified,
        seconds=round(result.seconds, 3),
    )
    return out
