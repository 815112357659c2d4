"""`kuavo convert` as a library: the options (validated like the training config), local bags, bags from the
hub under a disk cap, and merging converted shards.

`convert_bags` (local bags) and `convert_hub` return their summary even when nothing was written, so a
caller can show what happened; `check_local` / `check_hub` then turn that into the error the command exits
with.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kuavo_cli.convert.config import ConvertConfig
from kuavo_cli.convert.from_hub import HubSummary
from kuavo_cli.convert.merge import merge_datasets
from kuavo_cli.convert.pipeline import ConvertSummary, convert_bags
from kuavo_cli.errors import ConfigError, KuavoError, UsageError
from kuavo_cli.hub.sizes import parse_bytes

__all__ = [
    "ConvertConfig",
    "check_hub",
    "check_local",
    "convert_bags",
    "convert_hub",
    "load_convert_config",
    "merge_datasets",
]

DEFAULT_MAX_DISK = "20GB"


def load_convert_config(
    config_file: Path | None = None, options: dict[str, Any] | None = None
) -> ConvertConfig:
    """The `convert:` section of a YAML file (if given) < `options` (None = not given), validated by the
    same path as the training config: one line per bad field, naming it and what is allowed."""
    from kuavo_cli.config.loader import read_yaml, validate

    data: dict[str, Any] = {}
    if config_file is not None:
        section = read_yaml(config_file).get("convert") or {}
        if not isinstance(section, dict):
            raise ConfigError(["convert: must be a mapping of convert options"], str(config_file))
        data.update(section)
    data.update({k: v for k, v in (options or {}).items() if v is not None})
    return validate(data, source=str(config_file) if config_file else "kuavo convert", model=ConvertConfig)


def check_local(summary: ConvertSummary) -> None:
    """Raise (exit 1) when no dataset was written: no bag converted, or --strict and a bag was skipped."""
    if not summary.converted:
        raise KuavoError(
            f"no bag converted ({len(summary.skipped)} skipped); no dataset written",
            "see the reasons above; `kuavo inspect BAG` lists a bag's topics",
        )
    if not summary.written:
        raise KuavoError(
            f"--strict: {len(summary.skipped)} bag(s) skipped, so no dataset was written "
            f"(finished episodes are kept in {summary.staging})",
            "fix or remove those bags, then rerun with --resume",
        )


def convert_hub(
    repo_id: str,
    out: Path,
    cfg: ConvertConfig,
    *,
    tasks: list[str] | None = None,
    episodes: str | None = None,
    source: str | None = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    revision: str | None = None,
    max_disk: str | int | None = None,
    raw_dir: Path | None = None,
    download_workers: int = 2,
    verify: bool = True,
    force: bool = False,
    on_event: Callable | None = None,
    profile: bool = False,
) -> HubSummary:
    """Fetch, convert and delete the selected bags of a hub repo, never more than `max_disk` of raw bags
    on disk (bytes, or text like 50GB; default 20GB); `out` gets one dataset per task folder."""
    from kuavo_cli.convert.from_hub import HubSource, convert_from_hub
    from kuavo_cli.hub.api import make_request

    if download_workers < 1:
        raise UsageError(f"--download-workers must be >= 1 (got {download_workers})")
    request = make_request(
        repo_id, tasks=tasks, source=source, episodes=episodes, include=include, exclude=exclude,
        revision=revision, local_dir=raw_dir,
    )  # fmt: skip
    cap = max_disk if isinstance(max_disk, int) else parse_bytes(max_disk or DEFAULT_MAX_DISK, "--max-disk")
    hub = HubSource(request, cap, download_workers=download_workers, verify=verify)
    return convert_from_hub(hub, out, cfg, force=force, on_event=on_event, profile=profile)


def check_hub(summary: HubSummary) -> None:
    """Raise (exit 1) for bags that could not be downloaded, or a task folder with no dataset written."""
    if summary.failed:
        path, reason = summary.failed[0]
        raise KuavoError(
            f"{len(summary.failed)} bag(s) could not be downloaded (first: {path}: {reason}); the tasks "
            "holding them were not merged, converted episodes are kept",
            "run the same command again to fetch only what is missing",
        )
    if not summary.tasks and not summary.up_to_date:
        raise KuavoError("nothing was converted")
    empty = [name for name, t in summary.tasks.items() if not t.written]
    if empty:
        raise KuavoError(
            f"no dataset written for {', '.join(empty)} (no bag converted)",
            "see the reasons above; `kuavo inspect BAG` lists a bag's topics",
        )
