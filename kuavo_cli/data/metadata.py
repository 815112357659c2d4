"""Open a dataset's metadata (lerobot's own `LeRobotDatasetMetadata`): the one place that does, so every
command gives the same errors for a folder that is not a dataset or metadata lerobot cannot load.

A local folder is checked first (kuavo_cli/data/integrity.py): lerobot answers a missing meta file by going
to the hub, which fails offline with "OfflineModeIsEnabled" instead of naming the file. Without a folder
(`dataset.root` unset in a training config) the repo id is looked up in the hub cache, then the hub.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kuavo_cli.data.integrity import check_episode_files, check_meta_files
from kuavo_cli.errors import UsageError
from kuavo_cli.utils.logs import quiet_logs


def _first_line(err: Exception) -> str:
    return str(err).splitlines()[0] if str(err) else repr(err)


def open_metadata(
    root: Path | None, repo_id: str | None = None, revision: str | None = None, label: str | None = None
) -> Any:
    """The metadata of the dataset in folder `root` (meta/ files checked first, so the hub is never tried),
    or, with `root` None, of hub dataset `repo_id`. `label` names the field or flag that gave `root` in
    the error (e.g. "dataset root"). Errors are UsageError (exit 2), one line naming the folder and the fix."""
    from lerobot.datasets import LeRobotDatasetMetadata

    if root is None:
        try:
            with quiet_logs():
                return LeRobotDatasetMetadata(repo_id, revision=revision)
        except Exception as err:  # a hub lookup: offline, unknown repo, no access
            raise UsageError(
                f"cannot open dataset {repo_id!r}: {_first_line(err)}",
                "set dataset.root to a local copy (kuavo download ... --local-dir DIR)",
            ) from err
    root = Path(root)
    check_meta_files(root, label)
    try:
        with quiet_logs():
            return LeRobotDatasetMetadata(
                repo_id or f"local/{root.resolve().name}", root=root, revision=revision
            )
    except Exception as err:
        raise UsageError(
            f"{root}: lerobot cannot load the metadata ({type(err).__name__}: {_first_line(err)})",
            "re-download or re-convert the dataset (kuavo download / kuavo convert)",
        ) from err


def open_checked(
    root: Path,
    repo_id: str | None = None,
    episodes: Iterable[int] | None = None,
    revision: str | None = None,
    label: str | None = None,
) -> Any:
    """Both integrity phases: the metadata of a local dataset whose files for `episodes` (default all) are
    present and whole."""
    meta = open_metadata(root, repo_id, revision, label)
    check_episode_files(meta, episodes)
    return meta
