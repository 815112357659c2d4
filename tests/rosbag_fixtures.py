"""Small ROS1 Kuavo bags written with `rosbags`' Writer, plus the ground truth a test needs to check them.

Every value is a known function of (topic, message index), and every camera frame is one solid colour
from a palette that survives JPEG and AV1, so a test can tell which source message ended up in which
dataset frame. The `kuavo_msgs` types are registered from their `.msg` text (data-format doc §4), the
way a real bag carries them in its connection records.
"""

from __future__ import annotations

import re
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag1 import Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

KUAVO_MSGS = {
    "jointData": "float64[] joint_q\nfloat64[] joint_v\nfloat64[] joint_vd\nfloat64[] joint_torque\n",
    "imuData": (
        "geometry_msgs/Vector3 gyro\ngeometry_msgs/Vector3 acc\ngeometry_msgs/Vector3 free_acc\n"
        "geometry_msgs/Quaternion quat\n"
    ),
    "endEffectorData": "string[] name\nfloat64[] position\nfloat64[] velocity\nfloat64[] effort\n",
    "sensorsData": (
        "std_msgs/Header header\ntime sensor_time\nkuavo_msgs/jointData joint_data\n"
        "kuavo_msgs/imuData imu_data\nkuavo_msgs/endEffectorData end_effector_data\n"
    ),
    "jointCmd": (
        "std_msgs/Header header\nfloat64[] joint_q\nfloat64[] joint_v\nfloat64[] tau\nfloat64[] tau_max\n"
        "float64[] tau_ratio\nfloat64[] joint_kp\nfloat64[] joint_kd\nint32[] control_modes\n"
    ),
    "lejuClawState": (
        "std_msgs/Header header\nint8 kError=-1\nint8 kUnknown=0\nint8 kMoving=1\nint8 kReached=2\n"
        "int8 kGrabbed=3\nint8[] state\nkuavo_msgs/endEffectorData data\n"
    ),
    "lejuClawCommand": "std_msgs/Header header\nkuavo_msgs/endEffectorData data\n",
    "robotHandPosition": "std_msgs/Header header\nuint8[] left_hand_position\nuint8[] right_hand_position\n",
    "Rq2f85ClawCmd": "std_msgs/Header header\nfloat64 left_cmd\nfloat64 right_cmd\n",
    "Rq2f85ClawState": (
        "std_msgs/Header header\nfloat64 left_position\nfloat64 left_velocity\nfloat64 left_force\n"
        "float64 right_position\nfloat64 right_velocity\nfloat64 right_force\n"
    ),
}

CAMERA_TOPICS = {
    "head_cam_h": "/cam_h/color/image_raw/compressed",
    "wrist_cam_l": "/cam_l/color/image_raw/compressed",
    "wrist_cam_r": "/cam_r/color/image_raw/compressed",
}
DEPTH_TOPICS = {
    "depth_h": "/cam_h/depth/image_raw/compressedDepth",
    "depth_l": "/cam_l/depth/image_rect_raw/compressedDepth",
    "depth_r": "/cam_r/depth/image_rect_raw/compressedDepth",
}
# 6 levels per channel, 51 apart: far more than JPEG/AV1 error on a flat frame, 216 distinct colours.
PALETTE = np.array(
    [(r, g, b) for r in range(0, 256, 51) for g in range(0, 256, 51) for b in range(0, 256, 51)]
)
START_NS = 1_700_000_000 * 10**9
DEPTH_FAR_MM = 2000  # above the 1500 mm clip: tests the clipping


# The real lejuClawState.msg names its constants kError, kUnknown ...; rosbags' parser only accepts
# UPPER_SNAKE constant names. Register them upper-cased here, and put the real text back into the bag's
# connection record (`ros_msgdef`), so the converter has to cope with what a real bag carries.
_CONSTANT = re.compile(r"^(\w+)\s+(\w+)\s*=")
_REAL_NAMES = {
    m.group(2).upper(): m.group(2)
    for text in KUAVO_MSGS.values()
    for line in text.splitlines()
    if (m := _CONSTANT.match(line))
}


def typestore():
    """ROS1 Noetic types plus kuavo_msgs, registered from the .msg text."""
    store = get_typestore(Stores.ROS1_NOETIC)
    types: dict = {}
    for name, text in KUAVO_MSGS.items():
        upper = "\n".join(
            _CONSTANT.sub(lambda m: f"{m.group(1)} {m.group(2).upper()}=", line) for line in text.splitlines()
        )
        types.update(get_types_from_msg(upper + "\n", f"kuavo_msgs/msg/{name}"))
    store.register(types)
    return store


def ros_msgdef(store, msgtype: str) -> tuple[str, str]:
    """(message definition as ROS writes it into a bag, md5) for a connection record."""
    text, md5 = store.generate_msgdef(msgtype)
    for upper, real in _REAL_NAMES.items():
        text = re.sub(rf"^(\w+) {upper}=", rf"\g<1> {real}=", text, flags=re.MULTILINE)
    return text, md5


# ---- ground-truth values: a pure function of the message index -------------------------------------------
def joint_q(i: int) -> np.ndarray:
    """`/sensors_data_raw` joint_q (28, rad) of message i."""
    return 0.001 * i + 0.01 * np.arange(28) - 0.2


def arm_traj_deg(i: int) -> np.ndarray:
    """`/kuavo_arm_traj` position (14, degrees) of message i; elbows and wrists leave the joint limits."""
    return -20.0 + 2.0 * np.arange(14) + 0.5 * i


def gripper_fraction(i: int, side: int, shift: int) -> float:
    """The normalised gripper value in [0, 0.9] the bag encodes at message i (side 0 = left, 1 = right)."""
    return ((i + shift + 5 * side) % 10) / 10


def depth_level(i: int) -> int:
    """The middle band of depth frame i, in mm (inside the 0..1500 clip range)."""
    return 200 + 10 * (i % 100)


def palette_index(rgb: np.ndarray) -> int:
    """The palette entry nearest to an RGB colour (mean of a decoded frame)."""
    return int(np.argmin(((PALETTE - np.asarray(rgb, dtype=float)) ** 2).sum(axis=1)))


# ---- bag specification -------------------------------------------------------------------------------------
@dataclass
class BagSpec:
    seconds: float = 4.0
    gripper: str = "rq2f85"  # rq2f85 | rq2f85_legacy | claw | dexhand
    size: tuple[int, int] = (64, 48)  # width, height of the source images
    depth: bool = True
    cam_fps: float = 30.0
    # Wrist cameras start a little later and run at a slightly different rate: nearest != same index.
    cam_offsets_s: dict[str, float] = field(
        default_factory=lambda: {"head_cam_h": 0.0, "wrist_cam_l": 0.012, "wrist_cam_r": -0.007}
    )
    cam_rate_scale: dict[str, float] = field(
        default_factory=lambda: {"head_cam_h": 1.0, "wrist_cam_l": 1.01, "wrist_cam_r": 0.985}
    )
    state_hz: float = 100.0
    traj_hz: float = 50.0
    gripper_hz: float = 20.0
    joint_cmd_hz: float = 100.0
    arm_traj_topic: str = "/kuavo_arm_traj"
    plain_traj_decoy: bool = False  # with the _synced topic: also a /kuavo_arm_traj the converter must ignore
    omit: tuple[str, ...] = ()  # topics not written at all
    end_early: dict[str, float] = field(default_factory=dict)  # topic -> seconds its stream stops early
    texture: bool = False  # camera images with moving detail (benchmarks), instead of flat colours
    compression: str | None = None  # None | "lz4" | "bz2" (rosbag chunk compression)


@dataclass
class BagTruth:
    path: Path
    spec: BagSpec
    times: dict[str, np.ndarray]  # topic -> record times (ns) of its messages, in order


def _times(start_s: float, hz: float, seconds: float, stop_early: float = 0.0) -> np.ndarray:
    n = int(np.floor((seconds - stop_early - start_s) * hz))
    return START_NS + np.round((start_s + np.arange(max(n, 0)) / hz) * 1e9).astype(np.int64)


def _header(store, t_ns: int, seq: int):
    time_cls = store.types["builtin_interfaces/msg/Time"]
    return store.types["std_msgs/msg/Header"](
        seq=seq, stamp=time_cls(sec=t_ns // 10**9, nanosec=t_ns % 10**9), frame_id=""
    )


def gripper_topics(kind: str) -> tuple[str, str]:
    return {
        "rq2f85": ("/gripper/state", "/gripper/command"),
        "rq2f85_legacy": ("/gripper/state", "/gripper/command"),
        "claw": ("/leju_claw_state", "/leju_claw_command"),
        "dexhand": ("/dexhand/state", "/control_robot_hand_position"),
    }[kind]


def write_bag(path: Path, spec: BagSpec | None = None) -> BagTruth:
    """Write one Kuavo bag; the messages are interleaved in record-time order, as `rosbag record` does."""
    spec = spec or BagSpec()
    store = typestore()
    m = store.types
    w, h = spec.size
    msgs: list[tuple[int, str, str, object]] = []  # (time, topic, msgtype, msg)
    times: dict[str, np.ndarray] = {}

    def stream(topic: str, msgtype: str, ts: np.ndarray, build) -> None:
        if topic in spec.omit:
            return
        times[topic] = ts
        for i, t in enumerate(ts):
            msgs.append((int(t), topic, msgtype, build(i, int(t))))

    secs = spec.seconds

    def cut(topic: str) -> float:
        return spec.end_early.get(topic, 0.0)

    def sensors(i: int, t: int):
        q = joint_q(i)
        zeros = np.zeros(28)
        vec, quat = m["geometry_msgs/msg/Vector3"], m["geometry_msgs/msg/Quaternion"]
        return m["kuavo_msgs/msg/sensorsData"](
            header=_header(store, t, i),
            sensor_time=m["builtin_interfaces/msg/Time"](sec=t // 10**9, nanosec=t % 10**9),
            joint_data=m["kuavo_msgs/msg/jointData"](
                joint_q=q, joint_v=zeros, joint_vd=zeros, joint_torque=zeros
            ),
            imu_data=m["kuavo_msgs/msg/imuData"](
                gyro=vec(x=0.0, y=0.0, z=0.0),
                acc=vec(x=0.0, y=0.0, z=9.8),
                free_acc=vec(x=0.0, y=0.0, z=0.0),
                quat=quat(x=0.0, y=0.0, z=0.0, w=1.0),
            ),
            end_effector_data=m["kuavo_msgs/msg/endEffectorData"](
                name=[], position=np.zeros(0), velocity=np.zeros(0), effort=np.zeros(0)
            ),
        )

    stream(
        "/sensors_data_raw",
        "kuavo_msgs/msg/sensorsData",
        _times(0.0, spec.state_hz, secs, cut("/sensors_data_raw")),
        sensors,
    )

    def joint_cmd(i: int, t: int):
        z = np.zeros(28)
        return m["kuavo_msgs/msg/jointCmd"](
            header=_header(store, t, i), joint_q=np.full(28, 9.0), joint_v=z, tau=z, tau_max=z,
            tau_ratio=z, joint_kp=z, joint_kd=z, control_modes=np.zeros(28, dtype=np.int32),
        )  # fmt: skip

    stream(
        "/joint_cmd",
        "kuavo_msgs/msg/jointCmd",
        _times(0.003, spec.joint_cmd_hz, secs, cut("/joint_cmd")),
        joint_cmd,
    )

    def joint_state(position: np.ndarray, i: int, t: int, names: list[str] | None = None):
        n = len(position)
        return m["sensor_msgs/msg/JointState"](
            header=_header(store, t, i), name=names or [f"j{k}" for k in range(n)],
            position=np.asarray(position, dtype=np.float64), velocity=np.zeros(n), effort=np.zeros(n),
        )  # fmt: skip

    traj_topic = spec.arm_traj_topic
    stream(
        traj_topic, "sensor_msgs/msg/JointState", _times(0.005, spec.traj_hz, secs, cut(traj_topic)),
        lambda i, t: joint_state(arm_traj_deg(i), i, t, [f"arm_joint_{k}" for k in range(14)]),
    )  # fmt: skip

    if spec.plain_traj_decoy:
        stream(
            "/kuavo_arm_traj", "sensor_msgs/msg/JointState", _times(0.009, spec.traj_hz, secs),
            lambda i, t: joint_state(np.full(14, 45.0), i, t),
        )  # fmt: skip

    state_topic, cmd_topic = gripper_topics(spec.gripper)
    g_state = _times(0.007, spec.gripper_hz, secs, cut(state_topic))
    g_cmd = _times(0.011, spec.gripper_hz, secs, cut(cmd_topic))

    def frac(i: int, shift: int) -> np.ndarray:
        return np.array([gripper_fraction(i, 0, shift), gripper_fraction(i, 1, shift)])

    if spec.gripper == "rq2f85":
        stream(
            state_topic,
            "sensor_msgs/msg/JointState",
            g_state,
            lambda i, t: joint_state(0.8 * frac(i, 0), i, t),
        )
        stream(
            cmd_topic, "sensor_msgs/msg/JointState", g_cmd, lambda i, t: joint_state(255 * frac(i, 3), i, t)
        )
    elif spec.gripper == "rq2f85_legacy":

        def legacy_state(i: int, t: int):
            f = 0.8 * frac(i, 0)
            return m["kuavo_msgs/msg/Rq2f85ClawState"](
                header=_header(store, t, i), left_position=f[0], left_velocity=0.0, left_force=0.0,
                right_position=f[1], right_velocity=0.0, right_force=0.0,
            )  # fmt: skip

        def legacy_cmd(i: int, t: int):
            f = 255 * frac(i, 3)
            return m["kuavo_msgs/msg/Rq2f85ClawCmd"](
                header=_header(store, t, i), left_cmd=f[0], right_cmd=f[1]
            )

        stream(state_topic, "kuavo_msgs/msg/Rq2f85ClawState", g_state, legacy_state)
        stream(cmd_topic, "kuavo_msgs/msg/Rq2f85ClawCmd", g_cmd, legacy_cmd)
    elif spec.gripper == "claw":

        def ee(values: np.ndarray):
            return m["kuavo_msgs/msg/endEffectorData"](
                name=["left_claw", "right_claw"],
                position=values,
                velocity=np.full(2, 50.0),
                effort=np.ones(2),
            )

        stream(
            state_topic, "kuavo_msgs/msg/lejuClawState", g_state,
            lambda i, t: m["kuavo_msgs/msg/lejuClawState"](
                header=_header(store, t, i), state=np.zeros(2, dtype=np.int8), data=ee(100 * frac(i, 0))
            ),
        )  # fmt: skip
        stream(
            cmd_topic, "kuavo_msgs/msg/lejuClawCommand", g_cmd,
            lambda i, t: m["kuavo_msgs/msg/lejuClawCommand"](header=_header(store, t, i), data=ee(100 * frac(i, 3))),
        )  # fmt: skip
    elif spec.gripper == "dexhand":

        def hand_state(i: int, t: int):
            f = 100 * frac(i, 0)
            return joint_state(np.concatenate([np.full(6, f[0]), np.full(6, f[1])]), i, t)

        def hand_cmd(i: int, t: int):
            f = np.round(100 * frac(i, 3)).astype(np.uint8)
            return m["kuavo_msgs/msg/robotHandPosition"](
                header=_header(store, t, i),
                left_hand_position=np.full(6, f[0], dtype=np.uint8),
                right_hand_position=np.full(6, f[1], dtype=np.uint8),
            )

        stream(state_topic, "sensor_msgs/msg/JointState", g_state, hand_state)
        stream(cmd_topic, "kuavo_msgs/msg/robotHandPosition", g_cmd, hand_cmd)
    else:
        raise ValueError(spec.gripper)

    image = m["sensor_msgs/msg/CompressedImage"]
    for key, topic in CAMERA_TOPICS.items():
        ts = _times(spec.cam_offsets_s[key], spec.cam_fps * spec.cam_rate_scale[key], secs, cut(topic))

        def colour(i: int, t: int, topic=topic):
            rgb = np.zeros((h, w, 3), dtype=np.uint8)
            rgb[:] = PALETTE[i % len(PALETTE)]
            if spec.texture:
                rgb[:] = _texture(h, w, i, hash(topic) % 97)
            ok, jpg = cv2.imencode(
                ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]
            )
            assert ok
            return image(header=_header(store, t, i), format="rgb8; jpeg compressed bgr8", data=jpg.ravel())

        stream(topic, "sensor_msgs/msg/CompressedImage", ts, colour)

    if spec.depth:
        for topic in DEPTH_TOPICS.values():
            ts = _times(spec.cam_offsets_s["head_cam_h"] + 0.002, spec.cam_fps, secs, cut(topic))

            def depth(i: int, t: int):
                d = np.full((h, w), 100, dtype=np.uint16)  # near band
                d[:, w // 3 : 2 * w // 3] = depth_level(i)  # middle band: identifies the frame
                d[:, 2 * w // 3 :] = DEPTH_FAR_MM  # far band: clipped to 1500
                ok, png = cv2.imencode(".png", d)
                assert ok
                # compressedDepth: a 12-byte config header (format + 2 quantisation floats) before the PNG.
                payload = struct.pack("<iff", 0, 0.0, 0.0) + png.tobytes()
                return image(
                    header=_header(store, t, i),
                    format="16UC1; compressedDepth png",
                    data=np.frombuffer(payload, dtype=np.uint8),
                )

            stream(topic, "sensor_msgs/msg/CompressedImage", ts, depth)

    msgs.sort(key=lambda x: (x[0], x[1]))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = Writer(path)
    if spec.compression:
        writer.set_compression(Writer.CompressionFormat[spec.compression.upper()])
    with writer:
        conns = {}
        for _, topic, msgtype, _msg in msgs:
            if topic not in conns:
                msgdef, md5 = ros_msgdef(store, msgtype)
                conns[topic] = writer.add_connection(topic, msgtype, msgdef=msgdef, md5sum=md5)
        for t, topic, msgtype, msg in msgs:
            writer.write(conns[topic], t, store.serialize_ros1(msg, msgtype))
    return BagTruth(path=path, spec=spec, times=times)


def _texture(h: int, w: int, i: int, seed: int) -> np.ndarray:
    """A camera-like frame: smooth moving shapes plus sensor noise (costs like real footage to code)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 110 + 60 * np.sin(xx / 23 + i / 9 + seed) * np.cos(yy / 17 - i / 13)
    disc = ((xx - w * (0.5 + 0.3 * np.sin(i / 20))) ** 2 + (yy - h / 2) ** 2) < (h / 6) ** 2
    noise = np.random.default_rng(i * 131 + seed).normal(0, 6, (h, w))
    img = np.stack([base + noise, base * 0.8 + 40 * disc + noise, 200 * disc + noise], axis=-1)
    return np.clip(img, 0, 255).astype(np.uint8)


# ---- broken bags -------------------------------------------------------------------------------------------
def make_truncated(src: Path, dst: Path) -> Path:
    """The first half of a bag: what a full disk or an interrupted copy leaves behind."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: len(data) // 2])
    return Path(dst)


def make_unindexed(src: Path, dst: Path) -> Path:
    """A bag whose header has index_pos = 0, as `rosbag record` leaves it when killed (needs reindex)."""
    shutil.copyfile(src, dst)
    raw = bytearray(Path(dst).read_bytes())
    key = b"index_pos="
    at = raw.index(key) + len(key)
    raw[at : at + 8] = struct.pack("<Q", 0)
    Path(dst).write_bytes(bytes(raw))
    return Path(dst)
