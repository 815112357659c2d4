"""Message -> numbers: arm joints, the three gripper families, colour and depth images (doc §1.3, §1.4)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from kuavo_cli.convert.bagio import Bag, SkipBag
from kuavo_cli.convert.topics import GRIPPERS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JOINT_STATE = "sensor_msgs/msg/JointState"
RQ2F85_STATE_LEGACY = "kuavo_msgs/msg/Rq2f85ClawState"
RQ2F85_CMD_LEGACY = "kuavo_msgs/msg/Rq2f85ClawCmd"
CLAW_STATE = "kuavo_msgs/msg/lejuClawState"
CLAW_CMD = "kuavo_msgs/msg/lejuClawCommand"
HAND_CMD = "kuavo_msgs/msg/robotHandPosition"


def _need(values, n: int, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape[0] < n:
        raise SkipBag(f"{what} has {arr.shape[0]} values, need at least {n}")
    return arr


def arm_state(msg) -> np.ndarray:
    """`sensorsData.joint_data.joint_q[12:26]` (rad): left arm 7 then right arm 7."""
    return _need(msg.joint_data.joint_q, 26, "/sensors_data_raw joint_q")[12:26]


def arm_action(msg) -> np.ndarray:
    """`/kuavo_arm_traj` JointState position (degrees in the bag) -> radians, left 7 then right 7."""
    return np.deg2rad(_need(msg.position, 14, "/kuavo_arm_traj position")[:14])


# ---- grippers: (left, right) normalised to about [0, 1] ------------------------------------------------
def _rq2f85_state(msg) -> np.ndarray:
    if msg.__msgtype__ == RQ2F85_STATE_LEGACY:
        return np.array([msg.left_position, msg.right_position]) / 0.8
    return _need(msg.position, 2, "/gripper/state position")[:2] / 0.8


def _rq2f85_cmd(msg) -> np.ndarray:
    if msg.__msgtype__ == RQ2F85_CMD_LEGACY:
        return np.array([msg.left_cmd, msg.right_cmd]) / 255.0
    return _need(msg.position, 2, "/gripper/command position")[:2] / 255.0


def _claw(msg) -> np.ndarray:
    return _need(msg.data.position, 2, "leju claw data.position")[:2] / 100.0


def _hand_state(msg) -> np.ndarray:
    pos = _need(msg.position, 7, "/dexhand/state position")
    return np.array([pos[0], pos[6]]) / 100.0


def _hand_cmd(msg) -> np.ndarray:
    both = np.concatenate([np.asarray(msg.left_hand_position), np.asarray(msg.right_hand_position)])
    pos = _need(both, 7, "/control_robot_hand_position left++right")
    return np.array([pos[0], pos[6]]) / 100.0


# Accepted message types per (family, role). The sim gripper is documented both as JointState (ICRA
# converter and deploy) and as the older Rq2f85Claw* messages (Aug-2025 simulator): both are read.
_READERS: dict[tuple[str, str], dict[str, Callable]] = {
    ("rq2f85", "state"): {JOINT_STATE: _rq2f85_state, RQ2F85_STATE_LEGACY: _rq2f85_state},
    ("rq2f85", "command"): {JOINT_STATE: _rq2f85_cmd, RQ2F85_CMD_LEGACY: _rq2f85_cmd},
    ("claw", "state"): {CLAW_STATE: _claw},
    ("claw", "command"): {CLAW_CMD: _claw},
    ("dexhand", "state"): {JOINT_STATE: _hand_state},
    ("dexhand", "command"): {HAND_CMD: _hand_cmd},
}


@dataclass
class Gripper:
    family: str  # rq2f85 | claw | dexhand
    state_topic: str
    command_topic: str
    msgtypes: dict[str, str] = field(default_factory=dict)  # topic -> msgtype used
    read_state: Callable = _claw
    read_command: Callable = _claw

    @property
    def variant(self) -> str:
        """e.g. `rq2f85/JointState` or `rq2f85/Rq2f85ClawState+Rq2f85ClawCmd` (recorded in provenance)."""
        short = [
            t.rsplit("/", 1)[-1] for t in (self.msgtypes[self.state_topic], self.msgtypes[self.command_topic])
        ]
        return f"{self.family}/{short[0]}" if short[0] == short[1] else f"{self.family}/{short[0]}+{short[1]}"


def detect_family(bag: Bag, choice: str) -> str:
    """`auto`: the official rule keys on the command topics (claw, else dexhand, else the sim gripper)."""
    if choice != "auto":
        return choice
    claw = bag.count(GRIPPERS["claw"].command) > 0
    hand = bag.count(GRIPPERS["dexhand"].command) > 0
    if claw and hand:
        raise SkipBag("both leju-claw and dexhand commands are recorded; pass --gripper claw or dexhand")
    if claw:
        return "claw"
    if hand:
        return "dexhand"
    if bag.count(GRIPPERS["rq2f85"].command) or bag.count(GRIPPERS["rq2f85"].state):
        return "rq2f85"
    raise SkipBag(
        "no gripper topics (/gripper/*, /leju_claw_*, /dexhand/state, /control_robot_hand_position)"
    )


def resolve_gripper(bag: Bag, choice: str) -> Gripper:
    family = detect_family(bag, choice)
    topics = GRIPPERS[family]
    gripper = Gripper(family, topics.state, topics.command)
    for role, topic in (("state", topics.state), ("command", topics.command)):
        if bag.count(topic) == 0:
            raise SkipBag(f"missing topic {topic} ({family} gripper {role})")
        msgtype = bag.msgtype(topic) or ""
        reader = _READERS[(family, role)].get(msgtype)
        if reader is None:
            accepted = ", ".join(_READERS[(family, role)])
            raise SkipBag(f"{topic} has message type {msgtype}; expected one of {accepted}")
        gripper.msgtypes[topic] = msgtype
        setattr(gripper, f"read_{role}", reader)
    return gripper


# ---- images ------------------------------------------------------------------------------------------------
def colour_image(msg, hw: tuple[int, int]) -> np.ndarray:
    """JPEG/PNG bytes -> RGB uint8 (H, W, 3) resized with INTER_LINEAR, as the official converter."""
    import cv2

    bgr = cv2.imdecode(np.frombuffer(np.asarray(msg.data, dtype=np.uint8), np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("image bytes cannot be decoded")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = hw
    return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)


def depth_image(msg, hw: tuple[int, int], depth_range: tuple[int, int]) -> np.ndarray:
    """compressedDepth -> uint8 (H, W, 3): clip to the range, normalise per frame, 3 channels (doc §1.4)."""
    import cv2

    data = bytes(np.asarray(msg.data, dtype=np.uint8))
    at = data.find(PNG_SIGNATURE)  # skips the compressedDepth config header (normally 12 bytes)
    if at < 0:
        raise ValueError("no PNG payload in the compressedDepth message (quantised 32FC1 is not supported)")
    depth = cv2.imdecode(np.frombuffer(data[at:], np.uint8), cv2.IMREAD_UNCHANGED)
    if depth is None:
        raise ValueError("depth PNG cannot be decoded")
    if depth.ndim == 3:
        depth = depth[..., 0]
    h, w = hw
    depth = cv2.resize(depth, (w, h), interpolation=cv2.INTER_NEAREST)
    lo, hi = depth_range
    d = np.clip(depth, lo, hi).astype(np.float64)
    norm = ((d - d.min()) / (d.max() - d.min() + 1e-9) * 255).astype(np.uint8)
    return np.repeat(norm[..., None], 3, axis=2)
