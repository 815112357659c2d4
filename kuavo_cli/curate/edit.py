"""Edit datasets into new ones with lerobot's own dataset tools (`lerobot.datasets.dataset_tools`):
keep or delete episodes (`delete_episodes`), split (`split_dataset`), merge (`merge_datasets`), and set task
texts on the result (`modify_tasks`).

Never in place: the output must not exist and must not be (or lie inside) an input. lerobot writes into a
staging folder beside the output, which is renamed into place only when complete, so an interrupted edit
leaves no half-written dataset.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kuavo_cli.data.compat import require_compatible
from kuavo_cli.data.metadata import open_checked, open_metadata
from kuavo_cli.errors import KuavoError, UsageError
from kuavo_cli.utils.logs import quiet_logs
from kuavo_cli.utils.process_priority import normal_scheduling

os.environ.setdefault("SVT_LOG", "1")  # lerobot re-encodes with SVT-AV1, which prints a banner per video


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output(out: Path, inputs: list[Path]) -> Path:
    out = Path(out).expanduser().resolve()
    for source in inputs:
        source = Path(source).expanduser().resolve()
        if _inside(out, source) or _inside(source, out):
            raise UsageError(
                f"--out {out} is the input dataset {source} or overlaps it; edits never happen in place",
                "choose a new folder, e.g. --out " + str(source.parent / (source.name + "-edited")),
            )
    if out.exists():
        raise UsageError(f"--out {out} already exists", "choose a new folder (outputs are never overwritten)")
    return out


@contextlib.contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A folder to build `out` in; renamed to `out` when the block succeeds, removed otherwise."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield staging / "dataset"
        normal_scheduling()  # lerobot's AV1 re-encode may have made this process real-time
        if out.exists():
            raise UsageError(f"--out {out} appeared while editing", "choose a new folder")
        (staging / "dataset").rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def load(root: Path, episodes: list[int] | None = None) -> Any:
    """A LeRobotDataset of a local folder whose files were checked first (lerobot would try the hub)."""
    root = Path(root)
    meta = open_checked(root)
    with quiet_logs():
        from lerobot.datasets import LeRobotDataset

        return LeRobotDataset(meta.repo_id, root=root)


def _lerobot_call(what: str, fn, *args, **kwargs) -> Any:
    try:
        with quiet_logs():
            return fn(*args, **kwargs)
    except ValueError as err:  # lerobot's own validation of indices / splits
        raise UsageError(f"{what}: {err}") from err
    except KuavoError:
        raise
    except Exception as err:
        raise KuavoError(f"{what} failed: {type(err).__name__}: {err}") from err


def _check_episodes(episodes: list[int], total: int, flag: str) -> None:
    bad = sorted(e for e in set(episodes) if e < 0 or e >= total)
    if bad:
        raise UsageError(f"{flag}: episode(s) {bad} do not exist; the dataset has {total} (0..{total - 1})")


def _summary(root: Path) -> dict:
    meta = open_metadata(root)
    tasks = sorted(str(t) for t in meta.tasks.index) if meta.tasks is not None else []
    return {"path": str(root), "episodes": meta.total_episodes, "frames": meta.total_frames, "tasks": tasks}


def edit_dataset(
    root: Path,
    out: Path,
    keep: list[int] | None = None,
    delete: list[int] | None = None,
    task: str | None = None,
) -> dict:
    """Keep only `keep`, or drop `delete`, episodes (re-indexed from 0) and optionally set every episode's
    task text; into the new dataset `out`."""
    if keep is not None and delete is not None:
        raise UsageError("pass either --keep or --delete, not both")
    if keep is None and delete is None and task is None:
        raise UsageError("nothing to edit", "pass --keep, --delete or --task")
    out = check_output(out, [root])
    dataset = load(root)
    total = dataset.meta.total_episodes
    _check_episodes(keep or delete or [], total, "--keep" if keep is not None else "--delete")
    drop = sorted(set(range(total)) - set(keep)) if keep is not None else sorted(set(delete or []))
    if not drop and task is None:
        raise UsageError(
            "the edit changes nothing (every episode is kept)", "pass --delete, --keep or --task"
        )
    if len(drop) == total:
        raise UsageError("the edit would delete every episode", "keep at least one")
    from lerobot.datasets.dataset_tools import delete_episodes, modify_tasks

    with staged(out) as target:
        if drop:
            result = _lerobot_call("delete episodes", delete_episodes, dataset, drop, target, dataset.repo_id)
        else:  # only the task changes: a copy lerobot's modify_tasks then edits
            shutil.copytree(dataset.root, target)
            result = load(target)
        if task is not None:
            _lerobot_call("set task", modify_tasks, result, new_task=task)
    kept = [e for e in range(total) if e not in set(drop)]
    return {**_summary(out), "source": str(root), "kept": kept, "deleted": drop}


def split_dataset(root: Path, out: Path, splits: dict[str, list[int] | float]) -> dict:
    """Split into `out/<name>` datasets, one per split: episode lists, or fractions taken in episode order."""
    if len(splits) < 1:
        raise UsageError("pass at least one --split NAME=EPISODES or NAME=FRACTION")
    out = check_output(out, [root])
    dataset = load(root)
    total = dataset.meta.total_episodes
    fractions = [v for v in splits.values() if isinstance(v, float)]
    if fractions and len(fractions) != len(splits):
        raise UsageError("--split: use either fractions for every split or episode lists for every split")
    for name, value in splits.items():
        if isinstance(value, list):
            _check_episodes(value, total, f"--split {name}")
    if fractions:
        splits = fraction_episodes(total, splits)
    from lerobot.datasets import dataset_tools

    with staged(out) as target:
        _lerobot_call("split", dataset_tools.split_dataset, dataset, splits, target)
    return {
        "source": str(root),
        "path": str(out),
        "splits": {n: _summary(out / n) for n in splits if (out / n).exists()},
    }


def fraction_episodes(total: int, fractions: dict[str, float]) -> dict[str, list[int]]:
    """Fractions -> consecutive episode ranges in episode order (rounded; when the fractions add up to 1
    the last split takes the rest). lerobot's own conversion truncates and silently skips a split that
    rounds to no episode; here that is an error."""
    if sum(fractions.values()) > 1 + 1e-9:
        raise UsageError(f"--split fractions add up to {sum(fractions.values()):g}, more than 1")
    counts = [round(total * f) for f in fractions.values()]
    if abs(sum(fractions.values()) - 1) < 1e-9:
        counts[-1] = total - sum(counts[:-1])
    out, start = {}, 0
    for (name, fraction), count in zip(fractions.items(), counts, strict=True):
        if count < 1:
            raise UsageError(f"--split {name}={fraction:g} is no episode of {total}", "use a larger fraction")
        out[name] = list(range(start, start + count))
        start += count
    return out


def merge_datasets(roots: list[Path], out: Path, repo_id: str | None = None) -> dict:
    """Concatenate datasets (same fps and features) into `out`; every episode keeps its own task text."""
    if len(roots) < 2:
        raise UsageError("merge needs at least two datasets")
    out = check_output(out, roots)
    datasets = [load(r) for r in roots]
    require_compatible([d.meta for d in datasets], [str(r) for r in roots], "merge")
    from lerobot.datasets import dataset_tools

    with staged(out) as target:
        _lerobot_call("merge", dataset_tools.merge_datasets, datasets, repo_id or f"local/{out.name}", target)
    return {**_summary(out), "sources": [str(r) for r in roots]}
