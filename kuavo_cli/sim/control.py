"""Joint-space control standing in for the official balance stack, and the 10 Hz stepping of one scene.

The official robot runs MPC + whole-body control (compiled C++ on ROS). Here the base is welded at the
standing pose and every arm joint follows its 10 Hz target with PD + gravity/Coriolis compensation
(`qfrc_bias`) at the physics rate; the target is held (zero-order hold) between policy ticks. Grippers go
through the scene's actuator: ctrl = grip x 255, as /gripper/command.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kuavo_cli.data.schema import GRIPPER_INDICES, JOINT_LIMITS
from kuavo_cli.sim.scene import GRIPPER_COMMAND_SCALE, Scene

ARM_SLOTS = [i for i in range(16) if i not in GRIPPER_INDICES]  # action/state index of each arm joint
ARM_LOW = np.array([JOINT_LIMITS[i][0] for i in ARM_SLOTS])
ARM_HIGH = np.array([JOINT_LIMITS[i][1] for i in ARM_SLOTS])


def _gains(value: float | list[float], n_joints: int) -> np.ndarray:
    """One value for all, 7 (each arm the same) or one per joint."""
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.size == 1:
        return np.full(n_joints, arr[0])
    if arr.size == 7 and n_joints == 14:
        return np.tile(arr, 2)
    if arr.size != n_joints:
        raise ValueError(f"gains need 1, 7 or {n_joints} values, got {arr.size}")
    return arr


@dataclass
class JointGroup:
    qadr: np.ndarray
    dadr: np.ndarray
    kp: np.ndarray
    kd: np.ndarray


def _group(model, names: list[str], kp: np.ndarray, kd: np.ndarray) -> JointGroup:
    import mujoco

    ids = []
    for name in names:
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if jid < 0:
            raise ValueError(f"joint {name!r} is not in the model")
        ids.append(jid)
    return JointGroup(
        np.array([model.jnt_qposadr[j] for j in ids], dtype=int),
        np.array([model.jnt_dofadr[j] for j in ids], dtype=int),
        kp,
        kd,
    )


class SimController:
    """Owns MjData for one scene: reset, targets, physics stepping, state readout."""

    def __init__(self, scene: Scene):
        import mujoco

        scene.check()
        self.scene, self.model = scene, scene.model
        self.data = mujoco.MjData(self.model)
        arms = scene.arm_joints()
        self.arm = _group(self.model, arms, _gains(scene.arm_kp, 14), _gains(scene.arm_kd, 14))
        hold = scene.hold_joints
        hold_kp = _gains(scene.arm_kp, 14).max() if hold else 0.0
        hold_kd = _gains(scene.arm_kd, 14).max() if hold else 0.0
        self.hold = _group(self.model, hold, np.full(len(hold), hold_kp), np.full(len(hold), hold_kd))
        self.grip_act = np.array(
            [mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_ACTUATOR, n) for n in scene.gripper_actuators]
        )
        self.arm_target = np.zeros(14)
        self.hold_target = np.zeros(len(hold))
        self.physics_steps = 0
        self.time = 0.0

    def reset(self, rng: np.random.Generator) -> None:
        import mujoco

        mujoco.mj_resetData(self.model, self.data)
        if self.scene.initial_arm_q is not None:
            self.data.qpos[self.arm.qadr] = self.scene.initial_arm_q
        self.data.ctrl[self.grip_act] = 0.0
        mujoco.mj_forward(self.model, self.data)
        self.scene.task.reset(self.model, self.data, rng)
        mujoco.mj_forward(self.model, self.data)
        self.arm_target = self.data.qpos[self.arm.qadr].copy()
        self.hold_target = self.data.qpos[self.hold.qadr].copy()
        self.physics_steps, self.time = 0, 0.0

    def set_action(self, action: np.ndarray) -> None:
        """A 16-D dataset action: arm joints (rad, clipped to the official ranges) and grips in [0, 1]."""
        action = np.asarray(action, dtype=float).reshape(-1)
        if action.shape[0] != 16 or not np.all(np.isfinite(action)):
            raise ValueError(
                f"the policy returned a {action.shape[0]}-D action with non-finite values or a wrong size"
            )
        self.arm_target = np.clip(action[ARM_SLOTS], ARM_LOW, ARM_HIGH)
        grips = np.clip(action[list(GRIPPER_INDICES)], 0.0, 1.0)
        self.data.ctrl[self.grip_act] = grips * GRIPPER_COMMAND_SCALE

    def _apply_pd(self) -> None:
        d = self.data
        d.qfrc_applied[:] = 0.0
        for group, target in ((self.arm, self.arm_target), (self.hold, self.hold_target)):
            if group.qadr.size == 0:
                continue
            err = target - d.qpos[group.qadr]
            d.qfrc_applied[group.dadr] = (
                group.kp * err - group.kd * d.qvel[group.dadr] + d.qfrc_bias[group.dadr]
            )

    def advance(self, seconds: float) -> None:
        """Run physics for `seconds` (rounded to whole physics steps) with the held targets."""
        import mujoco

        n = int(round(seconds / self.model.opt.timestep))
        task = self.scene.task
        for _ in range(n):
            self._apply_pd()
            task.physics_step(self.model, self.data)
            mujoco.mj_step(self.model, self.data)
        self.physics_steps += n
        self.time = float(self.data.time)

    def state(self) -> np.ndarray:
        """observation.state, 16-D float32: left arm 7 rad, left grip, right arm 7, right grip."""
        q = self.data.qpos[self.arm.qadr]
        grips = self.scene.gripper_state(self.model, self.data)
        return np.concatenate([q[:7], grips[:1], q[7:], grips[1:]]).astype(np.float32)
