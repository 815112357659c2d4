"""Compare a LeRobot dataset with the Kuavo ICRA layout (shared/docs/kuavo-data-format.md §1.3, §3)."""

from __future__ import annotations

from kuavo_cli.data.schema import (
    ACTION_KEY,
    ACTION_NAMES_CLAW,
    ACTION_NAMES_DEXHAND,
    CAMERA_KEYS,
    FPS,
    JOINT_LIMITS,
    REAL_IMAGE_SIZE,
    ROBOT_TYPE,
    STATE_KEY,
    STATE_NAMES,
)

LIMIT_SLACK = 1e-3  # rad; the official converter clips actions to JOINT_LIMITS


def _check(level: str, code: str, message: str) -> dict:
    return {"level": level, "code": code, "message": message}


def kuavo_checks(
    meta, stats: dict, lengths: list[int], episode_ids: list[int], cameras: list[dict], chunk_size: int | None
) -> list[dict]:
    """A list of {level: warning|info, code, message}; an empty list means the layout matches."""
    out: list[dict] = []
    if int(meta.fps) != FPS:
        out.append(
            _check("warning", "fps", f"fps is {meta.fps}; Kuavo data and the deploy loop run at {FPS}")
        )
    if meta.robot_type != ROBOT_TYPE:
        out.append(_check("info", "robot_type", f"robot_type is {meta.robot_type!r}, not {ROBOT_TYPE!r}"))
    for key, expected_names in (
        (STATE_KEY, [STATE_NAMES]),
        (ACTION_KEY, [ACTION_NAMES_CLAW, ACTION_NAMES_DEXHAND]),
    ):
        feature = meta.features.get(key)
        if feature is None:
            out.append(_check("warning", "missing_feature", f"{key} is missing"))
            continue
        shape = list(feature.get("shape") or [])
        if shape != [16]:
            out.append(
                _check(
                    "warning",
                    "dims",
                    f"{key} has shape {shape}; Kuavo uses 16 (2 x 7 arm joints + 2 grippers)",
                )
            )
        names = stats.get(key, {}).get("names")
        if names and len(names) == 16 and names not in expected_names:
            out.append(
                _check("info", "names", f"{key} joint names differ from the Kuavo names ({names[0]}, ...)")
            )
    present = {c["key"] for c in cameras}
    for key in CAMERA_KEYS:
        if key not in present:
            out.append(_check("warning", "missing_camera", f"camera {key} is missing"))
    for cam in cameras:
        size = (cam.get("height"), cam.get("width"))
        if cam["key"] in CAMERA_KEYS and size != REAL_IMAGE_SIZE:
            out.append(_check("info", "resolution", f"{cam['key']} is {size[1]}x{size[0]}; the challenge data is "
                                                   f"{REAL_IMAGE_SIZE[1]}x{REAL_IMAGE_SIZE[0]}"))  # fmt: skip
        if cam.get("fps") not in (None, int(meta.fps)):
            out.append(
                _check(
                    "warning",
                    "video_fps",
                    f"{cam['key']} video runs at {cam['fps']} fps, dataset at {meta.fps}",
                )
            )
    for key, st in stats.items():
        nans = sum(st["nan_count"])
        if nans:
            bad = [n for n, c in zip(st["names"], st["nan_count"], strict=True) if c]
            out.append(
                _check(
                    "warning",
                    "nan",
                    f"{key} has {nans} NaN/inf values (in {', '.join(bad[:4])}{'…' if len(bad) > 4 else ''})",
                )
            )
    action = stats.get(ACTION_KEY)
    if action and len(action["min"]) == 16:
        outside = [action["names"][j] for j, (lo, hi) in enumerate(JOINT_LIMITS)
                   if (action["min"][j] is not None and action["min"][j] < lo - LIMIT_SLACK)
                   or (action["max"][j] is not None and action["max"][j] > hi + LIMIT_SLACK)]  # fmt: skip
        if outside:
            out.append(
                _check("warning", "limits", f"action leaves the official clip range in {', '.join(outside)}")
            )
    if chunk_size:
        short = [e for e, n in zip(episode_ids, lengths, strict=True) if n < chunk_size]
        if short:
            shown = ", ".join(map(str, short[:8])) + ("…" if len(short) > 8 else "")
            out.append(_check("warning", "short_episodes", f"{len(short)} episodes are shorter than the policy chunk "
                                                          f"({chunk_size} frames): {shown}"))  # fmt: skip
    return out
