"""`kuavo dataset` as a library: flag bad episodes, then write curated copies (never in place).

`check` scores every episode (and can plot the signals); `edit`, `split_dataset` and `merge_datasets` write
new datasets with lerobot's dataset tools.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kuavo_cli.curate.edit import edit_dataset, merge_datasets, split_dataset
from kuavo_cli.curate.flags import QualityThresholds, check_dataset
from kuavo_cli.errors import UsageError

__all__ = ["QualityThresholds", "check", "edit", "merge_datasets", "split_dataset"]


def check(
    dataset: Path,
    thresholds: QualityThresholds | None = None,
    cameras: bool = True,
    progress: Any = None,
    plot: Path | None = None,
) -> dict:
    """Every episode with its quality flags; `plot`: also a PNG of every signal per episode
    (its path in report["plot"])."""
    report = check_dataset(dataset, thresholds, cameras=cameras, progress=progress)
    if plot is not None:
        from kuavo_cli.curate.plots import quality_png

        report["plot"] = str(quality_png(report, plot))
    return report


def edit(
    dataset: Path,
    out: Path,
    keep: list[int] | None = None,
    delete: list[int] | None = None,
    delete_flagged: bool = False,
    task: str | None = None,
) -> dict:
    """Keep or delete episodes (re-indexed from 0), or those `check` flags with its default thresholds,
    and/or set every episode's task text, into the new dataset `out`."""
    if delete_flagged:
        if delete is not None or keep is not None:
            raise UsageError("--delete-flagged replaces --keep/--delete; pass only one of them")
        delete = check_dataset(dataset)["flagged"]
        if not delete and task is None:
            raise UsageError(f"kuavo dataset check flags no episode of {dataset}: nothing to delete")
    return edit_dataset(dataset, out, keep=keep, delete=delete, task=task)
