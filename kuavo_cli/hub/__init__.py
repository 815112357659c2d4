"""Get exactly the data you need from the hub: list, plan (filters, episodes), download with resume + verify.

Everything goes through `huggingface_hub` (HfApi.repo_info / list_repo_tree, hf_hub_download), so tokens
(`hf auth login`, HF_TOKEN), mirrors (HF_ENDPOINT), the cache (HF_HUB_CACHE) and offline mode behave as usual.
"""

from __future__ import annotations

from kuavo_cli.hub.filters import FileFilter, parse_episodes
from kuavo_cli.hub.plan import DownloadPlan, DownloadRequest
from kuavo_cli.hub.settings import DEFAULT_REPO, HubSettings, hub_settings

__all__ = [
    "DEFAULT_REPO",
    "DownloadPlan",
    "DownloadRequest",
    "FileFilter",
    "HubSettings",
    "hub_settings",
    "parse_episodes",
    "run_download",
]


def run_download(
    request: DownloadRequest, mode: str, console, max_workers: int = 8, verify: bool = True
) -> dict:
    """mode: "list" (groups, nothing fetched), "dry-run" (the plan, nothing written) or "download"."""
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
