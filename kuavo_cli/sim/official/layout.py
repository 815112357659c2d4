"""Where the official simulator keeps the robot and the ICRA scenes, and the names kuavo reads from them.

Everything here was read from LejuRobotics/kuavo-ros-opensource, branch `opensource/kuavo-data-challenge-icra`
(files under `src/data_challenge_simulator/`); docs/sim.md cites the file behind each value.
"""

from __future__ import annotations

import os
from pathlib import Path

from kuavo_cli.errors import UsageError

ENV_VAR = "KUAVO_SIM_ASSETS"
ICRA_BRANCH = "opensource/kuavo-data-challenge-icra"
PACKAGE = Path("src/data_challenge_simulator")  # the ROS package inside the checkout

# launch/nodelet_with_arm{1,2,3}.launch load models/biped_s$(ROBOT_VERSION)/xml/scene{1,2,3}.xml; the
# challenge image runs ROBOT_VERSION=45 (Kuavo 4.5 with Robotiq 2F-85 grippers).
ROBOT_FILE = Path("models/biped_s45/xml/biped_s45.xml")
SCENE_FILES = {
    "task1": Path("models/biped_s45/xml/scene1.xml"),  # toy sorting
    "task2": Path("models/biped_s45/xml/scene2.xml"),  # parcel weighing
    "task3": Path("models/biped_s45/xml/scene3.xml"),  # conveyor belt sorting
}
TASKS = tuple(SCENE_FILES)

LEFT_ARM_JOINTS = [f"zarm_l{i}_joint" for i in range(1, 8)]
RIGHT_ARM_JOINTS = [f"zarm_r{i}_joint" for i in range(1, 8)]
GRIPPER_ACTUATORS = ("left_fingers_actuator", "right_fingers_actuator")  # ctrlrange 0..255
# mujoco_node.cc publishes /gripper/state from these driver joints (0 open .. 0.8 rad closed).
GRIPPER_STATE_JOINTS = ("left_right_driver_joint", "right_right_driver_joint")
CAMERAS = {
    "head_cam_h": "head_camera",
    "wrist_cam_l": "left_wrist_camera",
    "wrist_cam_r": "right_wrist_camera",
}

BASE_BODY = "base_link"
# mujoco_node.cc's default initial qpos: the base standing on bent legs, pitched forward slightly.
BASE_STANDING_POS = (-0.00505, 0.0, 0.84414)
BASE_STANDING_QUAT = (0.99864, 0.0, 0.05215, 0.0)  # w x y z
STANDING_JOINTS = {
    **dict(
        zip(
            [f"leg_l{i}_joint" for i in range(1, 7)],
            (-0.01825, -0.00190, -0.52421, 0.73860, -0.31872, 0.01835),
            strict=True,
        )
    ),
    **dict(
        zip(
            [f"leg_r{i}_joint" for i in range(1, 7)],
            (0.01825, 0.00190, -0.52421, 0.73860, -0.31872, -0.01835),
            strict=True,
        )
    ),
    # The kit's deploy config sets head_init [yaw 0, pitch 0.209] before every episode.
    "zhead_1_joint": 0.0,
    "zhead_2_joint": 0.209,
}
# The whole-body controller's arm acceleration task (humanoid_controllers/config/kuavo_v45/mpc/task.info,
# armAccelTask): qdd = 150 (q* - q) + 10.2 (qd* - qd). kuavo applies it per joint, scaled by the joint's
# inertia at the start pose, so the torque-level PD of the runner tracks with the official bandwidth.
ARM_ACCEL_KP = 150.0
ARM_ACCEL_KD = 10.2
# Legs and head are pinned by joint equality constraints at STANDING_JOINTS: implicit in MuJoCo's solver,
# so they stay put even for the light ankle and head links an explicit PD at 500 Hz would shake loose.
HOLD_SOLREF = "0.004 1"

# launch/load_kuavo_mujoco_sim{1,2,3}.launch: wbc_frequency 500, which mujoco_node.cc uses as 1 / timestep.
PHYSICS_HZ = 500.0

# Task 2's soft parcel is a <composite type="grid" spacing=...>: MuJoCo 3.3 removed that form.
MUJOCO_SUPPORTED = ((3, 0), (3, 3))  # [low, high)
MUJOCO_PIN = "mujoco>=3.1,<3.3"


def parse_version(text: str) -> tuple[int, int]:
    parts = text.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return (0, 0)


def mujoco_version_problem(version: str) -> str | None:
    """One line saying why this MuJoCo cannot load the official scenes, or None when it can."""
    low, high = MUJOCO_SUPPORTED
    if low <= parse_version(version) < high:
        return None
    return (
        f'MuJoCo {version} cannot load the official scenes (task 2\'s <composite type="grid" spacing=...> '
        f"needs MuJoCo 3.0-3.2)"
    )


def resolve_checkout(assets: Path | str | None) -> Path:
    """The `src/data_challenge_simulator` folder of the user's checkout, from the argument or $KUAVO_SIM_ASSETS.

    Accepts the repository root, the package folder itself, or its `models/` folder.
    """
    given = assets if assets not in (None, "") else os.environ.get(ENV_VAR, "")
    if not given:
        raise UsageError(
            "no official simulator checkout given",
            hint=f"pass --assets DIR or set {ENV_VAR} to a kuavo-ros-opensource checkout (branch {ICRA_BRANCH})",
        )
    root = Path(given).expanduser()
    if not root.is_dir():
        raise UsageError(
            f"official simulator checkout {root} is not a folder", hint="check the --assets path"
        )
    candidates = [root / PACKAGE, root] + ([root.parent] if root.name == "models" else [])
    for candidate in candidates:
        if (candidate / "models").is_dir():
            return candidate
    raise UsageError(
        f"{root} does not look like a kuavo-ros-opensource checkout: no {PACKAGE / 'models'} folder",
        hint=f"git clone -b {ICRA_BRANCH} https://github.com/LejuRobotics/kuavo-ros-opensource and pass its root",
    )
