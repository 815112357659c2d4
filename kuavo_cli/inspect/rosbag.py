"""Inspect ROS1 bags with `rosbags` (pure Python, reads the bag index only): duration, topics, counts, rates.

A bag that cannot be opened (unindexed, truncated, not a bag) is listed with the reason; it never stops the run.
"""

from __future__ import annotations

from pathlib import Path

# Topics the official converter reads (shared/docs/kuavo-data-format.md §1.1); any one gripper source suffices.
REQUIRED_TOPICS = (
    "/sensors_data_raw",
    "/joint_cmd",
    "/kuavo_arm_traj",
    "/cam_h/color/image_raw/compressed",
    "/cam_l/color/image_raw/compressed",
    "/cam_r/color/image_raw/compressed",
)
GRIPPER_TOPICS = ("/gripper/state", "/leju_claw_state", "/dexhand/state")


def find_bags(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*.bag") if p.is_file())


def inspect_bag(path: Path) -> dict:
    from rosbags.rosbag1 import Reader

    entry: dict = {"path": str(path), "size": path.stat().st_size}
    try:
        reader = Reader(path)
        reader.open()
    except Exception as err:  # ReaderError for damaged / unindexed bags, OSError for unreadable files
        entry.update(ok=False, error=f"{type(err).__name__}: {err}")
        return entry
    try:
        seconds = max(reader.duration - 1, 0) / 1e9 if reader.message_count else 0.0
        topics = []
        for name, info in sorted(reader.topics.items()):
            count = int(info.msgcount)
            topics.append(
                {
                    "topic": name,
                    "msgtype": info.msgtype,
                    "count": count,
                    # (n - 1) intervals over the bag's span: exact for a topic recorded from start to end
                    "rate_hz": round((count - 1) / seconds, 3) if seconds > 0 and count > 1 else None,
                }
            )
        names = {t["topic"] for t in topics}
        missing = [t for t in REQUIRED_TOPICS if t not in names]
        if not any(t in names for t in GRIPPER_TOPICS):
            missing.append(" or ".join(GRIPPER_TOPICS))
        entry.update(
            ok=True,
            start_s=reader.start_time / 1e9 if reader.message_count else None,
            duration_s=round(seconds, 3),
            messages=int(reader.message_count),
            topics=topics,
            missing_topics=missing,
        )
    finally:
        reader.close()
    return entry


def inspect_bags(path: Path, progress=None) -> dict:
    bags = find_bags(path)
    entries = []
    for i, bag in enumerate(bags):
        entries.append(inspect_bag(bag))
        if progress:
            progress(i + 1, len(bags))
    good = [e for e in entries if e["ok"]]
    topic_bags: dict[str, int] = {}
    for e in good:
        for t in e["topics"]:
            topic_bags[t["topic"]] = topic_bags.get(t["topic"], 0) + 1
    checks = []
    bad = [e for e in entries if not e["ok"]]
    if bad:
        checks.append(
            {
                "level": "warning",
                "code": "unreadable",
                "message": f"{len(bad)} of {len(entries)} bags cannot be opened",
            }
        )
    incomplete = [e for e in good if e["missing_topics"]]
    if incomplete:
        example = incomplete[0]
        checks.append(
            {
                "level": "warning",
                "code": "missing_topics",
                "message": f"{len(incomplete)} bags lack topics the converter needs, e.g. {Path(example['path']).name}: "
                + ", ".join(example["missing_topics"][:3]),
            }
        )
    return {
        "kind": "rosbags",
        "path": str(path),
        "bags": len(entries),
        "readable": len(good),
        "total_duration_s": round(sum(e["duration_s"] for e in good), 3),
        "total_bytes": sum(e["size"] for e in entries),
        "topics": [{"topic": t, "bags": n} for t, n in sorted(topic_bags.items())],
        "entries": entries,
        "checks": checks,
    }
