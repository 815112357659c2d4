"""The Kuavo ICRA LeRobot schema (see shared/docs/kuavo-data-format.md §1.3 and §3)."""

from __future__ import annotations

FPS = 10
ROBOT_TYPE = "kuavo4pro"
STATE_KEY = "observation.state"
ACTION_KEY = "action"
CAMERA_KEYS = (
    "observation.images.head_cam_h",
    "observation.images.wrist_cam_l",
    "observation.images.wrist_cam_r",
)
DEPTH_KEYS = ("observation.depth_h", "observation.depth_l", "observation.depth_r")
REAL_IMAGE_SIZE = (480, 640)  # (height, width)

LEFT_ARM = [f"zarm_l{i}_link" for i in range(1, 8)]
RIGHT_ARM = [f"zarm_r{i}_link" for i in range(1, 8)]
STATE_NAMES = [*LEFT_ARM, "gripper_l", *RIGHT_ARM, "gripper_r"]
ACTION_NAMES_CLAW = [*LEFT_ARM, "left_claw", *RIGHT_ARM, "right_claw"]
ACTION_NAMES_DEXHAND = [*LEFT_ARM, "left_qiangnao_1", *RIGHT_ARM, "right_qiangnao_1"]
GRIPPER_INDICES = (7, 15)
ARM_INDICES = tuple(i for i in range(16) if i not in GRIPPER_INDICES)

# Official action clip ranges (rad; grippers [-1, 1]) in the 16-dim order above.
JOINT_LIMITS: list[tuple[float, float]] = [
    (-3.14159, 1.5708), (-0.349066, 2.0944), (-1.5708, 1.5708), (-2.61799, 0.0),
    (-1.5708, 1.5708), (-1.309, 0.698132), (-0.698132, 0.698132), (-1.0, 1.0),
    (-3.14159, 1.5708), (-2.0944, 0.349066), (-1.5708, 1.5708), (-2.61799, 0.0),
    (-1.5708, 1.5708), (-0.698132, 1.309), (-0.698132, 0.698132), (-1.0, 1.0),
]  # fmt: skip

SIM_TASKS = {
    1: "TASK1-ToySorting",
    2: "TASK2-ParcelWeighing",
    3: "TASK3-ConveyorBeltSorting",
}


def kuavo_features(image_size: tuple[int, int] = REAL_IMAGE_SIZE, use_videos: bool = True) -> dict:
    """The `features` dict passed to `LeRobotDataset.create` (both arms, claw/rq2f85 names, no depth)."""
    h, w = image_size
    features: dict = {
        STATE_KEY: {"dtype": "float32", "shape": (16,), "names": {"state_names": STATE_NAMES}},
        ACTION_KEY: {"dtype": "float32", "shape": (16,), "names": {"action_names": ACTION_NAMES_CLAW}},
    }
    for key in CAMERA_KEYS:
        features[key] = {
            "dtype": "video" if use_videos else "image",
            "shape": (3, h, w),
            "names": ["channels", "height", "width"],
        }
    return features


def joint_names(key: str) -> list[str]:
    return STATE_NAMES if key == STATE_KEY else ACTION_NAMES_CLAW
