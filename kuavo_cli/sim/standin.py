"""The stand-in world, built in code with `mujoco.MjSpec`: no external files, same contract as the official.

A fixed torso carries two 7-joint arms with the Kuavo joint names and the official joint limits
(`kuavo_cli.data.schema.JOINT_LIMITS`), each ending in a two-finger gripper driven by one actuator
(ctrl 0 open .. 255 closed, as /gripper/command), a head camera and a camera on each wrist. A table holds a
cube in front of the right arm and a bin in the middle. The task (`PickCubeTask`): put the cube in the bin.
"""

from __future__ import annotations

import numpy as np

from kuavo_cli.data.schema import JOINT_LIMITS
from kuavo_cli.sim.scene import GRIPPER_COMMAND_SCALE, Scene, TaskResult

TIMESTEP = 0.002  # 500 Hz physics, 50 steps per 10 Hz control tick
TABLE_TOP = 0.78
TABLE_CENTRE = (0.45, 0.0)
CUBE_HALF = 0.02
CUBE_HOME = np.array([0.40, -0.22])  # xy, randomised per seed by +-CUBE_JITTER
CUBE_JITTER = 0.02
BIN_CENTRE = np.array([0.42, 0.0])
BIN_INNER_HALF = 0.075
BIN_WALL = (0.006, 0.035)  # half thickness, half height
FINGER_TRAVEL = 0.036  # slide range per finger: 0 open .. 0.036 closed (pads just touch)
SHOULDER = (0.0, 0.22, 1.25)
UPPER_ARM, FOREARM = 0.28, 0.24
# Arm start pose (rad): forearms forward above the table, grippers open.
START_ARM = np.array([-0.6, 0.15, 0.0, -1.2, 0.0, 0.0, 0.3, -0.6, -0.15, 0.0, -1.2, 0.0, 0.0, 0.3])
ARM_AXES = ((0, 1, 0), (1, 0, 0), (0, 0, 1), (0, 1, 0), (0, 0, 1), (1, 0, 0), (0, 1, 0))
MAX_STEPS = 90  # 9 s at 10 Hz
# Collision bits: the robot (2) touches the world (1) but not itself; world geoms collide with both.
ROBOT = {"contype": 2, "conaffinity": 1}
WORLD = {"contype": 1, "conaffinity": 3}
POINTS = {"grasp": 20.0, "in_bin": 60.0, "time": 20.0}


def arm_joint_names(side: str) -> list[str]:
    return [f"zarm_{side}{i}_joint" for i in range(1, 8)]


def _limits(side: str) -> list[tuple[float, float]]:
    return JOINT_LIMITS[0:7] if side == "l" else JOINT_LIMITS[8:15]


def _add_arm(spec, torso, side: str) -> None:
    import mujoco

    sign = 1.0 if side == "l" else -1.0
    hinge = mujoco.mjtJoint.mjJNT_HINGE
    capsule, box = mujoco.mjtGeom.mjGEOM_CAPSULE, mujoco.mjtGeom.mjGEOM_BOX
    offsets = ((SHOULDER[0], sign * SHOULDER[1], SHOULDER[2]), (0, 0, 0), (0, 0, 0), (0, 0, -UPPER_ARM))
    offsets += ((0, 0, 0), (0, 0, -FOREARM), (0, 0, 0))
    parent = torso
    for i, (name, (lo, hi)) in enumerate(zip(arm_joint_names(side), _limits(side), strict=True)):
        body = parent.add_body(name=f"zarm_{side}{i + 1}_link", pos=list(offsets[i]))
        # Armature: geared motors' reflected inertia; it also keeps PD at 500 Hz stable on light links.
        body.add_joint(
            name=name, type=hinge, axis=list(ARM_AXES[i]), range=[lo, hi], armature=0.05, damping=1.0
        )
        if i == 2:
            body.add_geom(
                type=capsule, fromto=[0, 0, 0, 0, 0, -UPPER_ARM], size=[0.035, 0, 0], mass=1.5, **ROBOT
            )
        elif i == 4:
            body.add_geom(
                type=capsule, fromto=[0, 0, 0, 0, 0, -FOREARM], size=[0.03, 0, 0], mass=1.0, **ROBOT
            )
        else:
            body.add_geom(
                type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.02, 0, 0], mass=0.2, contype=0, conaffinity=0
            )
        parent = body
    hand = parent
    hand.add_geom(
        type=box, pos=[0, 0, -0.04], size=[0.025, 0.055, 0.02], mass=0.3, rgba=[0.2, 0.2, 0.2, 1], **ROBOT
    )
    hand.add_site(name=f"tcp_{side}", pos=[0, 0, -0.115], size=[0.005, 0, 0])
    # The wrist camera looks along the fingers (-z of the hand), from the back of the palm.
    hand.add_camera(name=f"wrist_cam_{side}", pos=[0.05, 0, -0.03], xyaxes=[0, 1, 0, -1, 0, 0], fovy=80)
    for k, fy in enumerate((1.0, -1.0)):
        finger = hand.add_body(name=f"finger_{side}{k}", pos=[0, fy * 0.045, -0.09])
        finger.add_joint(
            name=f"finger_{side}{k}_joint",
            type=mujoco.mjtJoint.mjJNT_SLIDE,
            axis=[0, -fy, 0],
            range=[0, FINGER_TRAVEL],
            armature=0.01,
            damping=2.0,
        )
        finger.add_geom(
            name=f"finger_{side}{k}_pad", type=box, size=[0.03, 0.006, 0.03], mass=0.05,
            friction=[1.5, 0.02, 0.001], condim=4, rgba=[0.9, 0.5, 0.1, 1], **ROBOT,
        )  # fmt: skip
    eq = spec.add_equality(type=mujoco.mjtEq.mjEQ_JOINT, name1=f"finger_{side}1_joint")
    eq.name2 = f"finger_{side}0_joint"
    eq.data[:5] = [0, 1, 0, 0, 0]
    # Position servo on finger 0: ctrl in [0, 255] maps to [0, FINGER_TRAVEL]; force limited like a real claw.
    kp = 400.0
    act = spec.add_actuator(name=f"gripper_{side}", target=f"finger_{side}0_joint")
    act.trntype = mujoco.mjtTrn.mjTRN_JOINT
    act.gaintype = mujoco.mjtGain.mjGAIN_FIXED
    act.biastype = mujoco.mjtBias.mjBIAS_AFFINE
    act.gainprm[0] = kp * FINGER_TRAVEL / GRIPPER_COMMAND_SCALE
    act.biasprm[:3] = [0, -kp, -10.0]
    act.ctrlrange = [0, GRIPPER_COMMAND_SCALE]
    act.forcerange = [-15, 15]


def build_model():
    """The compiled stand-in MjModel."""
    import mujoco

    spec = mujoco.MjSpec()
    spec.modelname = "kuavo_standin"
    spec.compiler.degree = False  # joint ranges in rad, like the official model
    spec.option.timestep = TIMESTEP
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    vis = getattr(spec.visual, "global")  # `global` is a Python keyword
    vis.offwidth, vis.offheight = 640, 480
    spec.visual.quality.shadowsize = 0  # shadows cost 10-30x in software (OSMesa) rendering
    box = mujoco.mjtGeom.mjGEOM_BOX
    world = spec.worldbody
    world.add_light(pos=[0.3, 0, 2.5], dir=[0, 0, -1], diffuse=[0.8, 0.8, 0.8])
    world.add_light(pos=[1.5, 1.0, 2.0], dir=[-1, -0.6, -1], diffuse=[0.3, 0.3, 0.3])
    world.add_geom(type=mujoco.mjtGeom.mjGEOM_PLANE, size=[3, 3, 0.1], rgba=[0.5, 0.55, 0.6, 1], **WORLD)
    # A backdrop so the cameras see a scene, not black, when they look up or forward.
    world.add_geom(
        type=box,
        pos=[1.4, 0, 1.2],
        size=[0.02, 2.0, 1.2],
        rgba=[0.75, 0.78, 0.7, 1],
        contype=0,
        conaffinity=0,
    )
    tx, ty = TABLE_CENTRE
    world.add_geom(
        name="table", type=box, pos=[tx, ty, TABLE_TOP - 0.02], size=[0.25, 0.5, 0.02],
        rgba=[0.55, 0.4, 0.25, 1], friction=[1.0, 0.02, 0.001], **WORLD,
    )  # fmt: skip
    for i, (x, y, size) in enumerate(_bin_walls()):
        world.add_geom(
            name=f"bin_wall{i}", type=box, pos=[x, y, TABLE_TOP + BIN_WALL[1]], size=size,
            rgba=[0.2, 0.45, 0.8, 1], **WORLD,
        )  # fmt: skip
    cube = world.add_body(name="cube", pos=[*CUBE_HOME, TABLE_TOP + CUBE_HALF])
    cube.add_freejoint(name="cube_free")
    cube.add_geom(
        name="cube", type=box, size=[CUBE_HALF] * 3, mass=0.08, rgba=[0.85, 0.1, 0.1, 1],
        friction=[1.5, 0.02, 0.001], condim=4, **WORLD,
    )  # fmt: skip
    torso = world.add_body(name="base_link", pos=[0, 0, 0])  # welded: no free joint
    torso.add_geom(
        type=box, pos=[-0.05, 0, 1.05], size=[0.08, 0.17, 0.25], rgba=[0.85, 0.85, 0.9, 1], **ROBOT
    )
    torso.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, pos=[-0.03, 0, 1.45], size=[0.1, 0, 0], **ROBOT)
    torso.add_camera(name="head_cam_h", pos=[0.07, 0, 1.5], xyaxes=[0, -1, 0, 0.7, 0, 0.71], fovy=70)
    for side in ("l", "r"):
        _add_arm(spec, torso, side)
    return spec.compile()


def _bin_walls() -> list[tuple[float, float, list[float]]]:
    cx, cy = BIN_CENTRE
    t, h = BIN_WALL
    out = BIN_INNER_HALF + t
    return [
        (cx + out, cy, [t, out + t, h]),
        (cx - out, cy, [t, out + t, h]),
        (cx, cy + out, [out + t, t, h]),
        (cx, cy - out, [out + t, t, h]),
    ]


class PickCubeTask:
    """Put the red cube into the blue bin with the right arm.

    Points (checked at 10 Hz): grasp 20 (sticky: the cube once held off the table by both fingers),
    in_bin 60 (the cube resting inside the bin, released), time up to 20 (the share of the episode left
    when it landed). Success = in the bin. A robot that never moves scores 0: the cube spawns on the table.
    """

    name = "pick_cube"
    max_steps = MAX_STEPS
    instruction = "Put the red cube into the blue bin"

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self.cube_xy = CUBE_HOME.copy()
        self._reset_state()

    def _reset_state(self) -> None:
        self.grasped = False
        self.in_bin_at: float | None = None
        self._t = 0.0

    def _resolve(self, model) -> None:
        import mujoco

        if self._ids:
            return
        obj = mujoco.mjtObj
        self._ids = {
            "cube_body": mujoco.mj_name2id(model, obj.mjOBJ_BODY, "cube"),
            "cube_geom": mujoco.mj_name2id(model, obj.mjOBJ_GEOM, "cube"),
            "qadr": model.jnt_qposadr[mujoco.mj_name2id(model, obj.mjOBJ_JOINT, "cube_free")],
            "vadr": model.jnt_dofadr[mujoco.mj_name2id(model, obj.mjOBJ_JOINT, "cube_free")],
        }
        self._pads = {
            mujoco.mj_name2id(model, obj.mjOBJ_GEOM, f"finger_{s}{k}_pad") for s in "lr" for k in (0, 1)
        }

    def reset(self, model, data, rng: np.random.Generator) -> None:
        self._resolve(model)
        self._reset_state()
        self.cube_xy = CUBE_HOME + rng.uniform(-CUBE_JITTER, CUBE_JITTER, 2)
        q, v = self._ids["qadr"], self._ids["vadr"]
        data.qpos[q : q + 3] = [*self.cube_xy, TABLE_TOP + CUBE_HALF]
        data.qpos[q + 3 : q + 7] = [1, 0, 0, 0]
        data.qvel[v : v + 6] = 0

    def physics_step(self, model, data) -> None:
        return None

    def cube_pos(self, data) -> np.ndarray:
        return data.xpos[self._ids["cube_body"]].copy()

    def _pad_contacts(self, data) -> int:
        cube, touching = self._ids["cube_geom"], set()
        for c in data.contact[: data.ncon]:
            pair = {int(c.geom1), int(c.geom2)}
            if cube in pair:
                touching |= pair & self._pads
        return len(touching)

    def tick(self, model, data, t: float) -> None:
        self._t = t
        pos = self.cube_pos(data)
        held = self._pad_contacts(data) >= 2
        if held and pos[2] > TABLE_TOP + CUBE_HALF + 0.03:
            self.grasped = True
        inside = bool(np.all(np.abs(pos[:2] - BIN_CENTRE) < BIN_INNER_HALF) and pos[2] < TABLE_TOP + 0.05)
        if inside and not held and self.in_bin_at is None:
            self.in_bin_at = t

    def done(self) -> bool:
        return self.in_bin_at is not None

    def result(self) -> TaskResult:
        horizon = MAX_STEPS * 0.1
        breakdown = {
            "grasp": POINTS["grasp"] if (self.grasped or self.in_bin_at is not None) else 0.0,
            "in_bin": POINTS["in_bin"] if self.in_bin_at is not None else 0.0,
            "time": round(POINTS["time"] * max(0.0, 1 - self.in_bin_at / horizon), 3)
            if self.in_bin_at is not None
            else 0.0,
        }
        return TaskResult(self.in_bin_at is not None, round(sum(breakdown.values()), 3), breakdown)


def make_standin_scene() -> Scene:
    return Scene(
        name="standin",
        model=build_model(),
        left_arm_joints=arm_joint_names("l"),
        right_arm_joints=arm_joint_names("r"),
        gripper_actuators=("gripper_l", "gripper_r"),
        cameras={"head_cam_h": "head_cam_h", "wrist_cam_l": "wrist_cam_l", "wrist_cam_r": "wrist_cam_r"},
        task=PickCubeTask(),
        gripper_state_joints=("finger_l0_joint", "finger_r0_joint"),
        gripper_state_scale=FINGER_TRAVEL,
        initial_arm_q=START_ARM.copy(),
        arm_kp=[150.0, 150.0, 80.0, 80.0, 30.0, 30.0, 30.0],
        arm_kd=[8.0, 8.0, 4.0, 4.0, 1.5, 1.5, 1.5],
        extra={"task": PickCubeTask.__doc__.splitlines()[0]},
    )
