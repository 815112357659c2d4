"""Inspect a LeRobot dataset folder: facts from lerobot's own metadata loader, stats computed from the data.

Files are checked first, so a partial or corrupt dataset gives one error naming the bad file instead of a
traceback from deep inside pyarrow / lerobot (and never a silent download attempt).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kuavo_cli.data.integrity import check_episode_files
from kuavo_cli.data.metadata import open_metadata
from kuavo_cli.data.schema import ACTION_KEY, STATE_KEY, joint_names
from kuavo_cli.errors import UsageError
from kuavo_cli.inspect.kuavo_check import kuavo_checks

INFO = Path("meta") / "info.json"
LENGTH_BINS = 10


def load_metadata(root: Path, repo_id: str | None = None):
    """lerobot's LeRobotDatasetMetadata for `root`, after checking every meta file it will read."""
    return open_metadata(root, repo_id)


def _episode_table(meta) -> list[dict]:
    return meta.episodes.to_pandas().to_dict("records")


def _local_rows(meta, rows: list[dict]) -> list[dict]:
    """Episodes whose data file is on disk. `kuavo download --episodes` fetches only some of them; if none
    is here at all, the dataset is broken and the first missing file is named."""
    local = [r for r in rows if (meta.root / meta.get_data_file_path(int(r["episode_index"]))).is_file()]
    if rows and not local:
        missing = meta.root / meta.get_data_file_path(int(rows[0]["episode_index"]))
        raise UsageError(f"{missing} is missing", "the dataset is incomplete; download or convert it again")
    return local


def _partial_check(local: int, total: int) -> list[dict]:
    if local == total:
        return []
    return [{"level": "info", "code": "partial", "message": f"only {local} of {total} episodes are on disk "
             "(a partial download); lengths and stats cover those"}]  # fmt: skip


def _referenced_files(meta, rows: list[dict]) -> tuple[list[Path], dict[str, list[Path]]]:
    data: set[Path] = set()
    videos: dict[str, set[Path]] = {k: set() for k in meta.video_keys}
    for row in rows:
        ep = int(row["episode_index"])
        data.add(meta.root / meta.get_data_file_path(ep))
        for key in meta.video_keys:
            videos[key].add(meta.root / meta.get_video_file_path(ep, key))
    return sorted(data), {k: sorted(v) for k, v in videos.items()}


def _read_vectors(files: list[Path], keys: list[str]) -> dict[str, np.ndarray]:
    """Columns `keys` (fixed-size float lists) plus episode/frame indices from every data file."""
    import pyarrow.parquet as pq

    parts: dict[str, list[np.ndarray]] = {}
    for path in files:
        try:
            schema = pq.read_schema(path)
            cols = [k for k in [*keys, "episode_index", "frame_index"] if k in schema.names]
            table = pq.read_table(path, columns=cols)
        except Exception as err:
            raise UsageError(
                f"{path} is not a readable parquet file ({err})", "the file is truncated or corrupt"
            ) from err
        for col in cols:
            arr = table.column(col).combine_chunks()
            if _is_list(arr.type):
                values = arr.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
                values = values.reshape(len(arr), -1)
            else:
                values = arr.to_numpy(zero_copy_only=False)
            parts.setdefault(col, []).append(values)
    return {k: np.concatenate(v) for k, v in parts.items()}


def _is_list(kind) -> bool:
    import pyarrow as pa

    return pa.types.is_list(kind) or pa.types.is_fixed_size_list(kind) or pa.types.is_large_list(kind)


def _names(feature: dict, key: str, dim: int) -> list[str]:
    names = feature.get("names")
    if isinstance(names, dict) and names:
        names = next(iter(names.values()))
    if isinstance(names, list) and len(names) == dim and all(isinstance(n, str) for n in names):
        return names
    kuavo = joint_names(key)
    return kuavo if dim == len(kuavo) else [f"{key}[{i}]" for i in range(dim)]


def vector_stats(values: np.ndarray, names: list[str]) -> dict:
    finite = np.where(np.isfinite(values), values, np.nan)
    with np.errstate(all="ignore"):
        out = {
            "names": names,
            "min": np.nanmin(finite, axis=0),
            "max": np.nanmax(finite, axis=0),
            "mean": np.nanmean(finite, axis=0),
            "std": np.nanstd(finite, axis=0),
        }
    clean = {k: [None if not np.isfinite(x) else round(float(x), 6) for x in v] if k != "names" else v
             for k, v in out.items()}  # fmt: skip
    clean["nan_count"] = [int(n) for n in np.isnan(values).sum(axis=0)]
    return clean


def _probe_cameras(meta, video_files: dict[str, list[Path]]) -> list[dict]:
    from lerobot.datasets.video_utils import get_video_info

    cams = []
    for key in meta.video_keys:
        declared = meta.features[key].get("info") or {}
        shape = meta.features[key].get("shape") or [None, None, None]
        probed: dict = {}
        for path in video_files[key]:
            if not path.is_file():
                raise UsageError(
                    f"{path} is missing", "the dataset is incomplete; download or convert it again"
                )
            try:
                probed = get_video_info(path)
            except Exception as err:
                raise UsageError(
                    f"{path} is not a readable video ({err})", "the file is truncated or corrupt"
                ) from err
            if not probed:
                raise UsageError(f"{path} has no video stream")
        cams.append(
            {
                "key": key,
                "codec": probed.get("video.codec", declared.get("video.codec")),
                "width": probed.get("video.width", declared.get("video.width", shape[2])),
                "height": probed.get("video.height", declared.get("video.height", shape[1])),
                "fps": probed.get("video.fps", declared.get("video.fps")),
                "pix_fmt": probed.get("video.pix_fmt", declared.get("video.pix_fmt")),
                "files": len(video_files[key]),
                "declared": {"codec": declared.get("video.codec"), "width": declared.get("video.width"),
                             "height": declared.get("video.height")},
            }
        )  # fmt: skip
    for key in meta.camera_keys:
        if key not in meta.video_keys:  # stored as images, not videos
            shape = meta.features[key].get("shape") or [None, None, None]
            cams.append({"key": key, "codec": "image", "width": shape[-1], "height": shape[-2], "fps": meta.fps,
                         "pix_fmt": None, "files": 0, "declared": {}})  # fmt: skip
    return cams


def inspect_dataset(
    root: Path, repo_id: str | None = None, chunk_size: int | None = None
) -> tuple[dict, dict]:
    """(report, context): the JSON-able report and what --frames needs (meta, vectors)."""
    meta = load_metadata(root, repo_id)
    all_rows = _episode_table(meta)
    rows = _local_rows(meta, all_rows)
    # The episodes on disk must be whole (a partial download leaves out whole episodes, never half of one).
    check_episode_files(meta, [int(r["episode_index"]) for r in rows])
    data_files, video_files = _referenced_files(meta, rows)
    numeric = [k for k, ft in meta.features.items()
               if ft.get("dtype") in ("float32", "float64") and len(ft.get("shape") or ()) == 1 and k != "timestamp"]  # fmt: skip
    vectors = _read_vectors(data_files, numeric)
    cameras = _probe_cameras(meta, video_files)
    lengths = [int(r["length"]) for r in rows]
    counts: list[int] = []
    edges: list[float] = [0.0]
    if lengths:
        hist, bin_edges = np.histogram(lengths, bins=min(LENGTH_BINS, max(1, len(set(lengths)))))
        counts, edges = [int(c) for c in hist], [float(e) for e in bin_edges]
    stats = {}
    for key in numeric:
        if key in vectors:
            values = vectors[key]
            stats[key] = vector_stats(values, _names(meta.features[key], key, values.shape[1]))
    features = [
        {
            "key": k,
            "dtype": ft.get("dtype"),
            "shape": list(ft.get("shape") or []),
            "names": _flat_names(ft.get("names")),
        }
        for k, ft in meta.features.items()
    ]
    tasks = (
        [{"task_index": int(idx), "task": str(task)} for task, idx in meta.tasks["task_index"].items()]
        if meta.tasks is not None
        else []
    )
    report = {
        "kind": "dataset",
        "path": str(root),
        "repo_id": repo_id,
        "codebase_version": str(meta.info.codebase_version),
        "fps": int(meta.fps),
        "robot_type": meta.robot_type,
        "episodes": int(meta.total_episodes),
        "episodes_local": len(rows),
        "frames": int(meta.total_frames),
        "duration_s": round(meta.total_frames / meta.fps, 3) if meta.fps else None,
        "tasks": tasks,
        "features": features,
        "cameras": cameras,
        "stats": stats,
        "episode_lengths": {
            "min": min(lengths) if lengths else 0,
            "max": max(lengths) if lengths else 0,
            "mean": round(float(np.mean(lengths)), 3) if lengths else 0.0,
            "histogram": {"edges": [round(float(e), 3) for e in edges], "counts": [int(c) for c in counts]},
        },
        "checks": _partial_check(len(rows), len(all_rows))
        + kuavo_checks(meta, stats, lengths, [int(r["episode_index"]) for r in rows], cameras, chunk_size),
        "outputs": {},
    }
    return report, {"meta": meta, "rows": rows, "vectors": vectors}


def _flat_names(names) -> list[str] | None:
    if isinstance(names, dict) and names:
        names = next(iter(names.values()))
    return [str(n) for n in names] if isinstance(names, list) else None


def episode_details(context: dict, episode: int) -> dict:
    rows = {int(r["episode_index"]): r for r in context["rows"]}
    if episode not in rows:
        from kuavo_cli.hub.filters import format_ranges

        raise UsageError(
            f"--episode {episode} is not in this dataset (episodes on disk: {format_ranges(sorted(rows))})"
        )
    row = rows[episode]
    return {
        "episode_index": episode,
        "length": int(row["length"]),
        "tasks": [str(t) for t in row.get("tasks", [])],
    }


def render_episode_pngs(context: dict, episode: int, out_dir: Path, name: str, samples: int = 6) -> dict:
    """Write <name>_ep<N>_frames.png (contact sheet) and <name>_ep<N>_trajectories.png; return their paths."""
    from kuavo_cli.inspect import plots

    meta, vectors = context["meta"], context["vectors"]
    row = {int(r["episode_index"]): r for r in context["rows"]}[episode]
    length, fps = int(row["length"]), float(meta.fps)
    picks = sorted(set(np.linspace(0, length - 1, min(samples, length)).round().astype(int).tolist()))
    frames: dict[str, list] = {}
    if meta.video_keys:
        from lerobot.datasets.video_utils import decode_video_frames

        for key in meta.video_keys:
            start = float(row[f"videos/{key}/from_timestamp"])
            path = meta.root / meta.get_video_file_path(episode, key)
            stamps = [start + i / fps for i in picks]
            try:
                decoded = decode_video_frames(
                    path, stamps, tolerance_s=0.5 / fps, backend="pyav", return_uint8=True
                )
            except Exception as err:
                raise UsageError(f"{path}: cannot decode frames of episode {episode} ({err})") from err
            frames[key] = [(i / fps, decoded[n].permute(1, 2, 0).numpy()) for n, i in enumerate(picks)]
    tag = f"{name}_ep{episode:03d}"
    out: dict = {}
    if frames:
        out["frames_png"] = str(
            plots.contact_sheet(frames, f"{name} · episode {episode}", out_dir / f"{tag}_frames.png")
        )
    mask = vectors["episode_index"] == episode
    order = np.argsort(vectors["frame_index"][mask])
    series = {k: vectors[k][mask][order] for k in (STATE_KEY, ACTION_KEY) if k in vectors}
    if series:
        dim = next(iter(series.values())).shape[1]
        names = _names(meta.features[next(iter(series))], next(iter(series)), dim)
        t = np.arange(int(mask.sum())) / fps
        title = f"{name} · episode {episode}: " + " vs ".join(series)
        out["trajectories_png"] = str(
            plots.trajectories(t, series, names, title, out_dir / f"{tag}_trajectories.png")
        )
    return out
