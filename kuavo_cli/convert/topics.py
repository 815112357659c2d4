"""Kuavo bag topics and which of them a conversion reads (data-format doc §1.1)."""

from __future__ import annotations

from dataclasses import dataclass

from kuavo_cli.data.schema import CAMERA_KEYS, DEPTH_KEYS

STATE_TOPIC = "/sensors_data_raw"
JOINT_CMD_TOPIC = "/joint_cmd"
ARM_TRAJ_TOPIC = "/kuavo_arm_traj"
ARM_TRAJ_SYNCED_TOPIC = "/kuavo_arm_traj_synced"  # used instead of /kuavo_arm_traj when it has messages

# Camera short name -> (topic, dataset key, is_depth). Order = the official DEFAULT_CAMERA_NAMES order
# with depth interleaved, which decides ties when picking the main timeline (doc §2 step 2).
CAMERAS: dict[str, tuple[str, str, bool]] = {
    "head_cam_h": ("/cam_h/color/image_raw/compressed", CAMERA_KEYS[0], False),
    "depth_h": ("/cam_h/depth/image_raw/compressedDepth", DEPTH_KEYS[0], True),
    "wrist_cam_l": ("/cam_l/color/image_raw/compressed", CAMERA_KEYS[1], False),
    "depth_l": ("/cam_l/depth/image_rect_raw/compressedDepth", DEPTH_KEYS[1], True),
    "wrist_cam_r": ("/cam_r/color/image_raw/compressed", CAMERA_KEYS[2], False),
    "depth_r": ("/cam_r/depth/image_rect_raw/compressedDepth", DEPTH_KEYS[2], True),
}
ARM_CAMERAS = {"both": ("h", "l", "r"), "left": ("h", "l"), "right": ("h", "r")}


@dataclass(frozen=True)
class GripperTopics:
    """One end-effector family: its state and command topics."""

    name: str  # rq2f85 | claw | dexhand
    state: str
    command: str


GRIPPERS = {
    "rq2f85": GripperTopics("rq2f85", "/gripper/state", "/gripper/command"),
    "claw": GripperTopics("claw", "/leju_claw_state", "/leju_claw_command"),
    "dexhand": GripperTopics("dexhand", "/dexhand/state", "/control_robot_hand_position"),
}
# Every gripper topic is read by the official reader whatever the eef type, so all of them count
# towards the `min_end` cut (doc §1.1 notes and §2 step 5).
ALL_GRIPPER_TOPICS = tuple(t for g in GRIPPERS.values() for t in (g.state, g.command))


def camera_names(arms: str, depth: bool) -> list[str]:
    """Cameras a conversion stores, in the official order."""
    sides = ARM_CAMERAS[arms]
    names = []
    for name, (_topic, _key, is_depth) in CAMERAS.items():
        if name[-1] in sides and (depth or not is_depth):
            names.append(name)
    return names
