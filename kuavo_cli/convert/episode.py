"""One bag -> one episode: plan from the index (pass 1), then stream only the selected frames (pass 2).

Memory per worker is bounded by one decoded message per topic (plus lerobot's video encoder), not
by the length of the bag: frames go to lerobot's writer (PNG on disk, then AV1) one at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from kuavo_cli.convert.align import Alignment, nearest_indices, select_stamps
from kuavo_cli.convert.bagio import Bag, SkipBag
from kuavo_cli.convert.config import ConvertConfig
from kuavo_cli.convert.decode import (
    ColourDecoder,
    DepthDecoder,
    Gripper,
    arm_action,
    arm_state,
    resolve_gripper,
)
from kuavo_cli.convert.features import ARM_DIMS, clip_ranges
from kuavo_cli.convert.profile import Profile
from kuavo_cli.convert.topics import (
    ALL_GRIPPER_TOPICS,
    ARM_TRAJ_SYNCED_TOPIC,
    ARM_TRAJ_TOPIC,
    CAMERAS,
    JOINT_CMD_TOPIC,
    STATE_TOPIC,
    camera_names,
)
from kuavo_cli.data.schema import ACTION_KEY, STATE_KEY

SENSORS_DATA = "kuavo_msgs/msg/sensorsData"
JOINT_STATE = "sensor_msgs/msg/JointState"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"


@dataclass
class Plan:
    """Everything pass 2 needs, computed from the bag index alone."""

    alignment: Alignment
    cameras: list[str]
    main_camera: str
    arm_topic: str
    gripper: Gripper
    selections: dict[str, np.ndarray]  # topic -> message index per output frame
    msgtypes: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return len(self.alignment.stamps)


def _check_type(bag: Bag, topic: str, expected: str) -> None:
    got = bag.msgtype(topic)
    if got != expected:
        raise SkipBag(f"{topic} has message type {got}, expected {expected}")


def plan_episode(bag: Bag, cfg: ConvertConfig) -> Plan:
    cameras = camera_names(cfg.arms, cfg.depth)
    for name in cameras:
        topic, _key, is_depth = CAMERAS[name]
        if bag.count(topic) == 0:
            hint = " (convert with --no-depth to leave depth out)" if is_depth else ""
            raise SkipBag(f"missing topic {topic} ({name}){hint}")
        _check_type(bag, topic, COMPRESSED_IMAGE)
    if bag.count(STATE_TOPIC) == 0:
        raise SkipBag(f"missing topic {STATE_TOPIC} (arm joint state)")
    _check_type(bag, STATE_TOPIC, SENSORS_DATA)
    # /kuavo_arm_traj_synced replaces /kuavo_arm_traj whenever it has messages (doc §1.1).
    arm_topic = ARM_TRAJ_SYNCED_TOPIC if bag.count(ARM_TRAJ_SYNCED_TOPIC) else ARM_TRAJ_TOPIC
    if bag.count(arm_topic) == 0:
        raise SkipBag(f"missing topic {ARM_TRAJ_TOPIC} (arm joint targets = the action)")
    _check_type(bag, arm_topic, JOINT_STATE)
    gripper = resolve_gripper(bag, cfg.gripper)

    # Main timeline: the stored camera with the most messages, ties to the first in the official order.
    main = cameras[0]
    for name in cameras[1:]:
        if bag.count(CAMERAS[name][0]) > bag.count(CAMERAS[main][0]):
            main = name

    used = [STATE_TOPIC, arm_topic, gripper.state_topic, gripper.command_topic]
    used += [CAMERAS[n][0] for n in cameras]
    # Every topic the official reader reads counts for min_end, even if its values are not stored.
    read = [STATE_TOPIC, JOINT_CMD_TOPIC, ARM_TRAJ_TOPIC, ARM_TRAJ_SYNCED_TOPIC, *ALL_GRIPPER_TOPICS]
    read += [CAMERAS[n][0] for n in cameras]
    times = {t: bag.times(t) for t in dict.fromkeys(read) if bag.count(t)}
    alignment = select_stamps(
        times[CAMERAS[main][0]], cfg.drop_frames, cfg.jump, [int(ts[-1]) for ts in times.values()]
    )
    if len(alignment.stamps) == 0:
        raise SkipBag(
            f"too short: {alignment.main_frames} frames on the main camera {main}, "
            f"{cfg.drop_frames} dropped at each end leave no frame before the last message of every topic"
        )
    selections = {t: nearest_indices(times[t], alignment.stamps) for t in used}
    msgtypes = {t: bag.msgtype(t) or "" for t in times}
    counts = {t: len(ts) for t, ts in times.items()}
    return Plan(alignment, cameras, main, arm_topic, gripper, selections, msgtypes, counts)


def iter_frames(
    bag: Bag, plan: Plan, cfg: ConvertConfig, profile: Profile | None = None, decode_threads: int = 2
) -> Iterator[dict]:
    """Frames in order, each holding only its own decoded images.

    The main thread walks the bag (one forward cursor per topic: the reader is not thread-safe) and
    hands the raw image messages to `decode_threads` threads (OpenCV releases the GIL), up to
    `AHEAD` frames ahead, so decoding overlaps with lerobot's encoding of the frames already yielded.
    A message selected for several frames in a row is decoded once. Messages no frame selects are
    skipped as raw bytes, never deserialised.
    """
    profile = profile or Profile(enabled=False)
    dims = ARM_DIMS[cfg.arms]
    lo, hi = (np.array(r) for r in clip_ranges(cfg.arms))
    hw = cfg.image_hw
    g = plan.gripper
    with profile.stage("bag_read"):
        cursors = {t: bag.cursor(t) for t in plan.selections}
    readers = {
        STATE_TOPIC: arm_state,
        plan.arm_topic: arm_action,
        g.state_topic: g.read_state,
        g.command_topic: g.read_command,
    }
    images: list[tuple[str, str, Callable]] = []  # (topic, dataset key, decoder)
    for name in plan.cameras:
        topic, key, is_depth = CAMERAS[name]
        decoder = DepthDecoder(hw, cfg.depth_range, profile) if is_depth else ColourDecoder(hw, profile)
        images.append((topic, key, decoder))

    def value(topic: str, i: int):
        with profile.stage("bag_read"):
            return cursors[topic].get(int(plan.selections[topic][i]), readers[topic])

    pool = ThreadPoolExecutor(max_workers=max(1, decode_threads), thread_name_prefix="kuavo-decode")
    last: dict[str, tuple[int, Future]] = {}  # topic -> (message index, its decode)

    def submit(i: int) -> dict:
        q, a = value(STATE_TOPIC, i), value(plan.arm_topic, i)
        gs, gc = value(g.state_topic, i), value(g.command_topic, i)
        state = np.concatenate([q[:7], gs[:1], q[7:14], gs[1:]])[dims]
        action = np.clip(
            np.concatenate([a[:7], gc[:1], a[7:14], gc[1:]])[dims], lo, hi
        )  # state is not clipped
        frame: dict = {
            STATE_KEY: state.astype(np.float32),
            ACTION_KEY: action.astype(np.float32),
            "task": cfg.task_description,
        }
        for topic, key, decoder in images:
            index = int(plan.selections[topic][i])
            if topic in last and last[topic][0] == index:
                frame[key] = last[topic][1]
                continue
            with profile.stage("bag_read"):
                raw = cursors[topic].raw(index)
            future = pool.submit(_decode, cursors[topic], raw, index, decoder, profile)
            last[topic] = (index, future)
            frame[key] = future
        return frame

    def finish(frame: dict) -> dict:
        for _topic, key, _decoder in images:
            frame[key] = frame[key].result()
        return frame

    pending: deque[dict] = deque()
    try:
        for i in range(plan.frames):
            pending.append(submit(i))
            if len(pending) > AHEAD:
                yield finish(pending.popleft())
        while pending:
            yield finish(pending.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


AHEAD = 3  # frames decoded ahead of the one handed to lerobot: ~6 MB at 640x480, keeps both cores busy


def _decode(cursor, raw: bytes, index: int, decoder: Callable, profile: Profile):
    with profile.stage("bag_read"):
        msg = cursor.decode(raw, index)
    return cursor.decode_message(msg, index, decoder)


def provenance(bag: Bag, plan: Plan, cfg: ConvertConfig) -> dict:
    al = plan.alignment
    return {
        "source_bag": bag.path.name,
        "frames": plan.frames,
        "gripper": plan.gripper.family,
        "gripper_variant": plan.gripper.variant,
        "arm_action_topic": plan.arm_topic,
        "main_camera": plan.main_camera,
        "main_camera_frames": al.main_frames,
        "frames_dropped": {
            "start": min(cfg.drop_frames, al.main_frames),
            "end": min(cfg.drop_frames, max(al.main_frames - cfg.drop_frames, 0)),
            "decimation": cfg.jump,
            "after_min_end": al.cut_by_min_end,
        },
        "start_time_ns": int(al.stamps[0]),
        "end_time_ns": int(al.stamps[-1]),
        "message_types": plan.msgtypes,
        "message_counts": plan.counts,
    }
