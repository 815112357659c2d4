"""A scripted expert for the stand-in's pick-the-cube task: Cartesian waypoints, damped least-squares IK.

It reads the cube's spawn position (privileged: a policy sees only cameras and joints) and emits the
16-D dataset action each 10 Hz tick: right-arm joint targets from IK, the left arm holding its start pose,
grips 0 (open) / 1 (closed). Recording it gives demonstrations in the exact Kuavo schema.
"""

from __future__ import annotations

import numpy as np

from kuavo_cli.sim import standin
from kuavo_cli.sim.control import ARM_HIGH, ARM_LOW, SimController

HAND_PITCH = -0.5  # rad about world y: the fingers point forward-down, which the wrist limits allow
# (name, seconds, tcp offset from its anchor, anchor, grip at the end of the phase)
PHASES = (
    ("approach", 1.6, (0.0, 0.0, 0.10), "cube", 0.0),
    ("descend", 1.0, (0.0, 0.0, 0.005), "cube", 0.0),
    ("close", 0.7, (0.0, 0.0, 0.005), "cube", 1.0),
    ("lift", 1.0, (0.0, 0.0, 0.13), "cube", 1.0),
    ("carry", 1.5, (0.0, 0.0, 0.13), "bin", 1.0),
    ("lower", 0.8, (0.0, 0.0, 0.07), "bin", 1.0),
    ("release", 0.6, (0.0, 0.0, 0.07), "bin", 0.0),
    ("retreat", 0.8, (0.0, 0.0, 0.16), "bin", 0.0),
)


LEFT_GESTURE = np.array([-1.0, 0.5, 0.3, -0.8, 0.3, 0.2, 0.2])  # joint directions of the left arm's gesture


def _rot_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


class ArmIK:
    """Position + orientation IK for one arm's tool site on a scratch MjData (the sim is never touched)."""

    def __init__(self, model, site: str, arm_qadr: np.ndarray, arm_dadr: np.ndarray):
        import mujoco

        self.model, self.data = model, mujoco.MjData(model)
        self.site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, site)
        self.qadr, self.dadr = arm_qadr, arm_dadr

    def solve(self, q0: np.ndarray, pos: np.ndarray, rot: np.ndarray, iters: int = 30) -> np.ndarray:
        import mujoco

        q = q0.copy()
        low, high = self._limits()
        jacp, jacr = np.zeros((3, self.model.nv)), np.zeros((3, self.model.nv))
        for _ in range(iters):
            self.data.qpos[self.qadr] = q
            mujoco.mj_kinematics(self.model, self.data)
            mujoco.mj_comPos(self.model, self.data)
            err_p = pos - self.data.site_xpos[self.site]
            current = self.data.site_xmat[self.site].reshape(3, 3)
            err_r = 0.5 * sum(np.cross(current[:, k], rot[:, k]) for k in range(3))
            if np.linalg.norm(err_p) < 1e-4 and np.linalg.norm(err_r) < 1e-3:
                break
            mujoco.mj_jacSite(self.model, self.data, jacp, jacr, self.site)
            jac = np.vstack([jacp[:, self.dadr], 0.3 * jacr[:, self.dadr]])
            err = np.concatenate([err_p, 0.3 * err_r])
            dq = jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(6), err)
            q = np.clip(q + np.clip(dq, -0.2, 0.2), low, high)
        return q

    def _limits(self) -> tuple[np.ndarray, np.ndarray]:
        jids = [int(np.flatnonzero(self.model.jnt_qposadr == a)[0]) for a in self.qadr]
        rng = self.model.jnt_range[jids]
        return rng[:, 0], rng[:, 1]


class PickCubeExpert:
    """Solves `standin.PickCubeTask`; `act` is called once per 10 Hz tick with the live controller."""

    def __init__(self) -> None:
        self._plan: list[tuple[float, np.ndarray, float]] = []

    def reset(self, sim: SimController, seed: int = 0) -> None:
        task = sim.scene.task
        cube = np.array([*task.cube_xy, standin.TABLE_TOP + standin.CUBE_HALF])
        bin_ = np.array([*standin.BIN_CENTRE, standin.TABLE_TOP + standin.CUBE_HALF])
        anchors = {"cube": cube, "bin": bin_}
        self.sim = sim
        self.ik = ArmIK(sim.model, "tcp_r", sim.arm.qadr[7:], sim.arm.dadr[7:])
        self.rot = _rot_y(HAND_PITCH)
        self.q_target = sim.arm_target.copy()
        start = sim.data.site("tcp_r").xpos.copy()
        t, self._plan = 0.0, [(0.0, start, 0.0)]
        for _, seconds, offset, anchor, grip in PHASES:
            t += seconds
            self._plan.append((t, anchors[anchor] + np.asarray(offset), grip))
        self.t = 0.0
        # The left arm makes a slow seeded gesture. An arm that never moves has ~0 variance in the data, and
        # mean/std normalisation then turns its sub-millirad jitter into huge policy inputs.
        self.left_start = self.q_target[:7].copy()
        self.left_amp = np.random.default_rng([seed, 7]).uniform(0.1, 0.3)

    def _waypoint(self, t: float) -> tuple[np.ndarray, float]:
        for (t0, p0, g0), (t1, p1, g1) in zip(self._plan, self._plan[1:], strict=False):
            if t <= t1:
                u = (t - t0) / (t1 - t0)
                u = u * u * (3 - 2 * u)  # smoothstep: no velocity jumps between phases
                return p0 + u * (p1 - p0), g1 if u > 0.5 else g0
        return self._plan[-1][1], self._plan[-1][2]

    def act(self, obs: dict) -> np.ndarray:
        self.t += self.sim.scene.control_dt
        pos, grip = self._waypoint(self.t)
        q_right = self.ik.solve(self.q_target[7:], pos, self.rot)
        self.q_target[7:] = np.clip(q_right, ARM_LOW[7:], ARM_HIGH[7:])
        wave = self.left_amp * np.sin(np.pi * min(self.t / self._plan[-1][0], 1.0))
        self.q_target[:7] = np.clip(self.left_start + wave * LEFT_GESTURE, ARM_LOW[:7], ARM_HIGH[:7])
        action = np.zeros(16, dtype=np.float32)
        action[0:7], action[8:15] = self.q_target[:7], self.q_target[7:]
        action[7], action[15] = 0.0, grip
        return action
