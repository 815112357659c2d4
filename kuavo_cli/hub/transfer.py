"""One file from the hub with `hf_hub_download`: the transfer that planning (LeRobot meta/) and downloads use.

Kept apart from `fetch` (the parallel, verified download of a plan) and `plan` (choosing the files) so that
neither imports the other.
"""

from __future__ import annotations

from pathlib import Path

from kuavo_cli.hub.errors import storage_folder, translate
from kuavo_cli.hub.listing import RepoListing
from kuavo_cli.hub.settings import HubSettings
from kuavo_cli.utils.atomic import write_text


def hf_download(
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


def silent_bar(*args, **kwargs):
    from huggingface_hub.utils.tqdm import silent_tqdm

    return silent_tqdm()


def fetch_quietly(
    listing: RepoListing, settings: HubSettings, paths: list[str], local_dir, cache_dir
) -> None:
    """Small files needed for planning (LeRobot meta/): no progress bars."""
    try:
        for path in paths:
            hf_download(listing, settings, path, local_dir, cache_dir, bar=silent_bar)
    except Exception as err:
        raise translate(err, listing.repo_id, listing.repo_type, settings, local_dir) from err
    if local_dir is None:
        record_ref(cache_dir, listing)


def record_ref(cache_dir: Path, listing: RepoListing) -> None:
    """Point refs/<revision> at the commit, as huggingface_hub does, so offline lookups by branch name work."""
    if listing.revision == listing.commit:
        return
    ref = storage_folder(cache_dir, listing.repo_id, listing.repo_type) / "refs" / listing.revision
    write_text(ref, listing.commit)
