"""Episode selection in LeRobot dataset repos: fetch meta/, then only the data/video files holding the episodes."""

from __future__ import annotations

import json
from pathlib import Path

from kuavo_cli.errors import KuavoError, UsageError
from kuavo_cli.hub.listing import LEROBOT_INFO, RemoteFile


def meta_files(files: list[RemoteFile]) -> list[RemoteFile]:
    return [f for f in files if f.path.startswith("meta/")]


def _episode_table(meta_root: Path, info: dict):
    """One row per episode with its data / video file indices (v3.0 meta/episodes parquet)."""
    import pyarrow.parquet as pq

    parts = sorted((meta_root / "meta" / "episodes").glob("*/*.parquet"))
    if not parts:
        raise KuavoError(
            f"{meta_root / 'meta' / 'episodes'} has no parquet files", "the dataset repo looks incomplete"
        )
    video_keys = [k for k, ft in info["features"].items() if ft.get("dtype") == "video"]
    wanted = ["episode_index", "tasks", "data/chunk_index", "data/file_index"]
    wanted += [f"videos/{k}/{c}" for k in video_keys for c in ("chunk_index", "file_index")]
    rows = []
    for part in parts:
        try:
            table = pq.read_table(part, columns=[c for c in wanted if c in pq.read_schema(part).names])
        except Exception as err:
            raise KuavoError(f"{part} cannot be read: {err}") from err
        rows.extend(table.to_pylist())
    return rows, video_keys


def select_lerobot_files(
    files: list[RemoteFile],
    meta_root: Path,
    episodes: list[int] | None,
    tasks: list[str],
) -> tuple[list[RemoteFile], dict]:
    """Meta + top-level files + the data/video files of the chosen episodes. Returns (files, summary)."""
    info = json.loads((meta_root / LEROBOT_INFO).read_text())
    total = int(info.get("total_episodes", 0))
    version = str(info.get("codebase_version", ""))
    by_path = {f.path: f for f in files}
    wanted: set[str] = {f.path for f in files if f.path.startswith("meta/") or "/" not in f.path}
    if version.startswith("v2"):
        chosen = _episodes_or_all(episodes, total)
        if tasks:
            raise UsageError(
                f"--task filtering needs a v3.0 dataset ({version} found)", "drop --task or use --include"
            )
        chunks = int(info.get("chunks_size", 1000))
        video_keys = [k for k, ft in info["features"].items() if ft.get("dtype") == "video"]
        for ep in chosen:
            fmt = {"episode_chunk": ep // chunks, "episode_index": ep}
            wanted.add(info["data_path"].format(**fmt))
            for key in video_keys:
                wanted.add(info["video_path"].format(video_key=key, **fmt))
    else:
        rows, video_keys = _episode_table(meta_root, info)
        if tasks:
            needles = [t.lower() for t in tasks]
            rows = [
                r
                for r in rows
                if any(n in str(task).lower() for task in (r.get("tasks") or []) for n in needles)
            ]
            if not rows:
                raise UsageError(
                    f"--task {' '.join(tasks)}: no episode has a matching task",
                    "run with --list to see tasks",
                )
        chosen_set = set(_episodes_or_all(episodes, total))
        rows = [r for r in rows if int(r["episode_index"]) in chosen_set]
        chosen = sorted(int(r["episode_index"]) for r in rows)
        for r in rows:
            wanted.add(
                info["data_path"].format(chunk_index=r["data/chunk_index"], file_index=r["data/file_index"])
            )
            for key in video_keys:
                ci, fi = r.get(f"videos/{key}/chunk_index"), r.get(f"videos/{key}/file_index")
                if ci is not None and fi is not None:
                    wanted.add(info["video_path"].format(video_key=key, chunk_index=ci, file_index=fi))
    missing = sorted(p for p in wanted if p not in by_path)
    if missing:
        raise KuavoError(
            f"the repo's meta lists {missing[0]} but the repo has no such file",
            "the dataset repo is incomplete",
        )
    summary = {
        "codebase_version": version,
        "total_episodes": total,
        "episodes": chosen,
        "fps": info.get("fps"),
    }
    return [by_path[p] for p in sorted(wanted)], summary


def _episodes_or_all(episodes: list[int] | None, total: int) -> list[int]:
    if episodes is None:
        return list(range(total))
    bad = [e for e in episodes if e >= total]
    if bad and len(bad) == len(episodes):
        raise UsageError(
            f"--episodes: the dataset has {total} episodes (0-{total - 1})", "pick indices in that range"
        )
    return [e for e in episodes if e < total]
