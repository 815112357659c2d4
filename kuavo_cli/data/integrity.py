"""Check a local LeRobot v3.0 dataset's files before any command reads it.

lerobot answers a missing or short file under `root` by trying to download it from the hub, which fails
offline with "OfflineModeIsEnabled" (or, online, fetches into a folder the user thought complete), and a
truncated file fails deep inside pyarrow / FFmpeg mid-training. `kuavo train`, `eval`, `cache` and
`inspect` call this module first (through kuavo_cli/data/metadata.py), so the user gets one line naming the first bad file and the fix.

Two phases, because lerobot's metadata loader itself reaches for the hub when a meta file is missing:
1. `check_meta_files(root)`: meta/info.json (valid JSON, v3.x), meta/tasks.parquet, meta/episodes/*.parquet
   (readable footers) and meta/stats.json (valid JSON when present);
2. `check_episode_files(meta, episodes)`: for the episodes a command will read, every data parquet file
   (readable footer, the feature columns, as many rows as the episodes' lengths add up to) and every video
   file per camera (complete top-level MP4 boxes: a truncated file ends inside one; the stream lasts until
   the last episode's `to_timestamp`).
"""

from __future__ import annotations

import json
import struct
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kuavo_cli.errors import UsageError

INFO = Path("meta") / "info.json"
NOT_A_DATASET = (
    "point at the dataset's root folder: one made by `kuavo convert` or `kuavo demo-data`, or downloaded with "
    "`kuavo download REPO_ID --local-dir DIR`"
)
REFETCH = "the dataset is incomplete: download it again (kuavo download REPO_ID --local-dir {root}) or re-run kuavo convert"


class DatasetFileError(UsageError):
    """A file the dataset's metadata references is missing, truncated or unreadable (exit 2)."""

    def __init__(self, path: Path, problem: str, root: Path, hint: str | None = None):
        self.path = path
        super().__init__(f"{path} {problem}", hint or REFETCH.format(root=root))


# ---------------------------------------------------------------- phase 1: meta/ files
def _parquet_footer(path: Path, root: Path) -> Any:
    import pyarrow.parquet as pq

    if not path.is_file():
        raise DatasetFileError(path, "is missing", root)
    try:
        return pq.ParquetFile(path).metadata  # reads the footer: a truncated file has none
    except Exception as err:
        raise DatasetFileError(
            path, f"is not a readable parquet file ({err}): truncated or corrupt", root
        ) from err


def check_meta_files(root: Path, label: str | None = None) -> dict:
    """Phase 1; returns the parsed info.json. `label` names where `root` came from (e.g. "dataset root")."""
    root = Path(root)
    info_path = root / INFO
    if not info_path.is_file():
        raise UsageError(
            f"{label + ' ' if label else ''}{root} is not a LeRobot dataset (no {INFO})", NOT_A_DATASET
        )
    try:
        info = json.loads(info_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetFileError(info_path, f"is not valid JSON ({err})", root) from err
    version = str(info.get("codebase_version", "?"))
    if not version.startswith("v3"):
        raise UsageError(
            f"{root} is a LeRobot {version} dataset; this tool reads v3.0",
            "convert it with lerobot's `lerobot.datasets.v30.convert_dataset_v21_to_v30`",
        )
    _parquet_footer(root / "meta" / "tasks.parquet", root)
    episode_files = sorted((root / "meta" / "episodes").glob("*/*.parquet"))
    if not episode_files:
        raise DatasetFileError(root / "meta" / "episodes", "has no parquet files", root)
    for path in episode_files:
        _parquet_footer(path, root)
    stats = root / "meta" / "stats.json"
    if stats.exists():
        try:
            json.loads(stats.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DatasetFileError(stats, f"is not valid JSON ({err})", root) from err
    return info


# ---------------------------------------------------------------- phase 2: data and video files
def mp4_problem(path: Path) -> str | None:
    """Walk the top-level ISO-BMFF boxes (ftyp, moov, mdat, ...): each header gives its size, so a file cut
    short ends inside a box. Needs a few reads per file, not a decode. None when the layout is whole."""
    size = path.stat().st_size
    pos, seen = 0, set()
    with path.open("rb") as f:
        while pos < size:
            f.seek(pos)
            header = f.read(16)
            if len(header) < 8:
                return f"ends inside an MP4 box header at byte {pos}: truncated"
            box_size, kind = struct.unpack(">I4s", header[:8])
            if box_size == 1:  # 64-bit size follows the type
                if len(header) < 16:
                    return f"ends inside an MP4 box header at byte {pos}: truncated"
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:  # runs to the end of the file
                box_size = size - pos
            if box_size < 8 or not kind.isascii():
                return f"has no valid MP4 box at byte {pos}: not an MP4 file or corrupt"
            if pos + box_size > size:
                return (
                    f"is truncated: its '{kind.decode(errors='replace')}' box needs {pos + box_size} bytes, "
                    f"the file has {size}"
                )
            seen.add(kind)
            pos += box_size
    if b"moov" not in seen:
        return "has no 'moov' box (no MP4 header): truncated or corrupt"
    return None


def _video_duration(path: Path) -> float | None:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return container.duration / 1e6 if container.duration else None


def _episode_rows(meta: Any, episodes: Iterable[int] | None) -> tuple[list[dict], list[dict]]:
    table = meta.episodes.to_pandas()
    columns = [c for c in table.columns if not c.startswith("stats/")]
    all_rows = table[columns].to_dict("records")
    if episodes is None:
        return all_rows, all_rows
    wanted = set(int(e) for e in episodes)
    return all_rows, [r for r in all_rows if int(r["episode_index"]) in wanted]


def check_episode_files(meta: Any, episodes: Iterable[int] | None = None, probe_videos: bool = True) -> dict:
    """Phase 2 for `episodes` (default: all). Raises DatasetFileError for the first bad file; returns
    {"data_files": n, "video_files": n} checked."""
    root = Path(meta.root)
    all_rows, rows = _episode_rows(meta, episodes)
    rows_per_file: dict[Path, int] = defaultdict(int)
    for r in all_rows:
        rows_per_file[meta.get_data_file_path(int(r["episode_index"]))] += int(r["length"])
    columns = [k for k, ft in meta.features.items() if ft.get("dtype") != "video"]
    data_files = sorted({meta.get_data_file_path(int(r["episode_index"])) for r in rows})
    for rel in data_files:
        footer = _parquet_footer(root / rel, root)
        names = set(footer.schema.to_arrow_schema().names)
        absent = [c for c in columns if c not in names]
        if absent:
            raise DatasetFileError(root / rel, f"has no column {absent[0]!r} (meta/info.json lists it)", root)
        if footer.num_rows != rows_per_file[rel]:
            raise DatasetFileError(
                root / rel,
                f"has {footer.num_rows} rows; meta/episodes says its episodes hold {rows_per_file[rel]}: "
                "truncated or from another conversion",
                root,
            )
    ends: dict[tuple[str, Path], float] = {}
    for key in meta.video_keys:
        for r in rows:
            rel = meta.get_video_file_path(int(r["episode_index"]), key)
            end = float(r.get(f"videos/{key}/to_timestamp") or 0.0)
            ends[(key, rel)] = max(ends.get((key, rel), 0.0), end)
    for (key, rel), end in sorted(ends.items(), key=lambda kv: str(kv[0][1])):
        path = root / rel
        if not path.is_file():
            raise DatasetFileError(path, f"is missing (camera {key})", root)
        problem = mp4_problem(path)
        if problem:
            raise DatasetFileError(path, problem, root)
        if probe_videos:
            try:
                duration = _video_duration(path)
            except Exception as err:
                raise DatasetFileError(path, f"cannot be opened as a video ({err}): corrupt", root) from err
            if duration is not None and duration + 1.0 / meta.fps < end:
                raise DatasetFileError(
                    path, f"lasts {duration:.2f} s but episodes need it until {end:.2f} s: truncated", root
                )
    return {"data_files": len(data_files), "video_files": len(ends)}
