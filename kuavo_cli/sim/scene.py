"""The contract between a world (the stand-in, or an official task scene) and the episode runner.

A `Scene` holds a compiled MuJoCo model plus the names the runner needs (arm joints, gripper actuators and
joints, cameras) and the `Task` that randomises, drives and scores an episode. The runner owns the control
(PD + gravity compensation on the arms, zero-order hold on the 10 Hz targets, gripper command = grip x 255),
the rendering and the policy; a scene only describes the world and the task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

# Shown in every report: the official balance stack (MPC + whole-body control) is not simulated.
FIDELITY_NOTE = (
    "proxy score: base welded at the standing pose, arms on PD + gravity compensation; "
    "the official MPC/whole-body balance controller is not simulated"
)
CAMERA_NAMES = ("head_cam_h", "wrist_cam_l", "wrist_cam_r")  # dataset keys after observation.images.
OFFICIAL_GRIPPER_STATE_SCALE = 0.8  # rq2f85 driver joint: 0 open .. 0.8 rad closed (/gripper/state)
GRIPPER_COMMAND_SCALE = 255.0  # /gripper/command: 0 open .. 255 closed


@dataclass
class TaskResult:
    success: bool
    score: float  # the task's own scale (official tasks: their evaluator's points)
    breakdown: dict[str, float] = field(default_factory=dict)  # points per rule, for the report
    error: str | None = None  # set by the runner when the policy raised


@runtime_checkable
class Task(Protocol):
    name: str
    max_steps: int  # at 10 Hz
    instruction: str  # the language prompt (the dataset's `task` string)

    def reset(self, model: Any, data: Any, rng: np.random.Generator) -> None:
        """Per-seed randomisation and spawns; called after the runner put the robot at its start pose."""

    def physics_step(self, model: Any, data: Any) -> None:
        """Called before every physics step (belts, timed spawns)."""

    def tick(self, model: Any, data: Any, t: float) -> None:
        """Called at 10 Hz after the physics of the step (region checks, sticky points); t = sim seconds."""

    def result(self) -> TaskResult: ...

    def done(self) -> bool:
        """True ends the episode early (success reached, or failure that cannot be undone)."""


@dataclass
class Scene:
    """Everything the runner needs from a world."""

    name: str  # "standin", "task1", ...
    model: Any  # mujoco.MjModel, compiled, base already welded when welded_base
    left_arm_joints: list[str]  # 7 joint names, Kuavo order (zarm_l1_joint .. zarm_l7_joint)
    right_arm_joints: list[str]  # 7
    gripper_actuators: tuple[str, str]  # (left, right) actuator names; ctrl = grip * 255, grip in [0, 1]
    cameras: dict[str, str]  # {"head_cam_h": mj camera, "wrist_cam_l": ..., "wrist_cam_r": ...}
    task: Task
    # The joint whose position is the gripper state; state grip = clip(qpos / scale, 0, 1), as the
    # dataset stores /gripper/state position / 0.8 (kuavo-data-format.md §1.3).
    gripper_state_joints: tuple[str, str] = ("", "")
    gripper_state_scale: float = OFFICIAL_GRIPPER_STATE_SCALE
    # Arm start pose (14 rad, left then right); None keeps the model's qpos0.
    initial_arm_q: np.ndarray | None = None
    # Other robot joints (legs, waist, head) held at their start position by the same PD + bias law.
    hold_joints: list[str] = field(default_factory=list)
    arm_kp: float | list[float] = 300.0  # N m / rad, per joint or one for all
    arm_kd: float | list[float] = 20.0
    welded_base: bool = True
    control_dt: float = 0.1  # 10 Hz policy rate; physics runs at model.opt.timestep
    fidelity_note: str = FIDELITY_NOTE
    extra: dict[str, Any] = field(default_factory=dict)  # scene-specific facts for the report

    def arm_joints(self) -> list[str]:
        return [*self.left_arm_joints, *self.right_arm_joints]

    def gripper_state(self, model: Any, data: Any) -> np.ndarray:
        """(left, right) grip in [0, 1] the way the dataset's observation.state has it."""
        import mujoco

        out = np.zeros(2)
        for k, name in enumerate(self.gripper_state_joints):
            jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
            if jid < 0:
                raise ValueError(f"scene {self.name}: gripper state joint {name!r} not in the model")
            out[k] = data.qpos[model.jnt_qposadr[jid]] / self.gripper_state_scale
        return np.clip(out, 0.0, 1.0)

    def check(self) -> None:
        """Fail early, naming what is missing, when the model lacks a name the scene declares."""
        import mujoco

        missing = []
        kinds = (
            (mujoco.mjtObj.mjOBJ_JOINT, [*self.arm_joints(), *self.gripper_state_joints, *self.hold_joints]),
            (mujoco.mjtObj.mjOBJ_ACTUATOR, list(self.gripper_actuators)),
            (mujoco.mjtObj.mjOBJ_CAMERA, list(self.cameras.values())),
        )
        for kind, names in kinds:
            missing += [n for n in names if mujoco.mj_name2id(self.model, kind, n) < 0]
        if len(self.left_arm_joints) != 7 or len(self.right_arm_joints) != 7:
            missing.append("7 joints per arm")
        if set(self.cameras) != set(CAMERA_NAMES):
            missing.append(f"cameras {', '.join(CAMERA_NAMES)}")
        if missing:
            raise ValueError(f"scene {self.name}: the model lacks {', '.join(missing)}")
