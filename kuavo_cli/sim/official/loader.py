"""Load the Kuavo robot and an ICRA challenge scene from the user's own checkout of the official simulator.

The official balance stack (MPC + whole-body control on ROS) is replaced by welding the base at the standing
pose: the robot file is patched in memory (its `base_link` loses the free joint and takes the standing pose)
and handed to MuJoCo as a virtual file under the name the scene includes, so every other path in the scene
(meshes, textures, object models) still resolves inside the checkout. Nothing is written to the checkout.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from kuavo_cli.errors import UsageError
from kuavo_cli.sim.official import layout
from kuavo_cli.sim.official.tasks import TASK_CLASSES, OfficialTask
from kuavo_cli.sim.scene import FIDELITY_NOTE, Scene

OFFICIAL_FIDELITY_NOTE = (
    f"{FIDELITY_NOTE}; legs and head pinned at the standing pose, arm gains from the official armAccelTask "
    "scaled by joint inertia; time runs in simulated seconds"
)

# Arms at the pose eval{1,2,3}.py drive them to before /simulator/init (degrees, left 7 then right 7).
INITIAL_ARM_DEG = {
    "task1": [30, 0, 0, -130, -90, -40, 0, 30, 0, 0, -130, 90, 40, 0],
    "task2": [-10, 0, 0, -100, -90, -40, 0, 10, 0, -35, -110, 90, 40, 0],
    "task3": [0, 0, 0, 0, 0, 0, 0, 18, 0, 0, -110, 90, 0, 0],
}


_BASE_TAG = re.compile(r"<body\b[^>]*\bname\s*=\s*[\"']" + re.escape(layout.BASE_BODY) + r"[\"'][^>]*>")
_FREE_JOINT = re.compile(r"<freejoint\b[^>]*?/>|<joint\b[^>]*\btype\s*=\s*[\"']free[\"'][^>]*?/>")
_POSE_ATTR = re.compile(r"\s(pos|quat|euler|axisangle|xyaxes|zaxis)\s*=\s*(\"[^\"]*\"|'[^']*')")


def welded_robot_xml(text: str, source: str = "robot file") -> str:
    """The robot MJCF with `base_link` fixed to the world at the standing pose.

    A textual patch, not an XML round trip: the official biped_s45.xml has a tag MuJoCo's parser accepts and
    Python's rejects (`type="hinge"pos=...`), and the rest of the file must reach MuJoCo untouched.
    """
    tag = _BASE_TAG.search(text)
    if tag is None:
        raise UsageError(
            f"{source} has no body {layout.BASE_BODY!r}", hint="use biped_s45.xml from the official checkout"
        )
    pose = " ".join(
        (
            'pos="' + " ".join(f"{v:g}" for v in layout.BASE_STANDING_POS) + '"',
            'quat="' + " ".join(f"{v:g}" for v in layout.BASE_STANDING_QUAT) + '"',
        )
    )
    opening = _POSE_ATTR.sub("", tag.group(0))
    opening = opening[:-2] + f" {pose}/>" if opening.endswith("/>") else opening[:-1] + f" {pose}>"
    rest = text[tag.end() :]
    next_body = rest.find("<body")
    own = rest if next_body < 0 else rest[:next_body]  # the base's own elements, before its first child body
    own = _FREE_JOINT.sub("", own, count=1)
    text = text[: tag.start()] + opening + own + (rest[next_body:] if next_body >= 0 else "")
    return _pin_standing_joints(text)


def _pin_standing_joints(text: str) -> str:
    """Append joint equality constraints holding legs and head at the standing pose."""
    pins = "".join(
        f'<joint name="kuavo_pin_{name}" joint1="{name}" polycoef="0 0 0 0 0" solref="{layout.HOLD_SOLREF}"/>'
        for name, value in layout.STANDING_JOINTS.items()
        if re.search(r"<joint\b[^>]*\bname\s*=\s*[\"']" + re.escape(name) + r"[\"']", text)
    )
    end = text.rfind("</mujoco>")
    if not pins or end < 0:
        return text
    return text[:end] + f"<equality>{pins}</equality>\n" + text[end:]


def _missing_file(message: str) -> str | None:
    """The path in MuJoCo's 'cannot open this file' errors, when that is what the error says."""
    if not re.search(
        r"(?i)(could not open|error opening|not found|no such file|cannot open|resource)", message
    ):
        return None
    quoted = re.findall(r"'([^']+)'", message) or re.findall(r'"([^"]+)"', message)
    files = [q for q in quoted if "/" in q or "." in q]
    return os.path.normpath(files[-1]) if files else None


def compile_scene(scene_file: Path, robot_file: Path) -> Any:
    """Compile a scene with the welded robot; one UsageError line when MuJoCo cannot."""
    robot_xml = welded_robot_xml(robot_file.read_text(encoding="utf-8"), str(robot_file))
    try:
        return mujoco.MjModel.from_xml_path(str(scene_file), {robot_file.name: robot_xml.encode()})
    except ValueError as err:
        message = " ".join(str(err).split())
        missing = _missing_file(message)
        if missing:
            raise UsageError(
                f"{scene_file.name}: a file it references is missing: {missing}",
                hint=f"check out the complete {layout.ICRA_BRANCH} branch: the scene needs this file at that path",
            ) from err
        problem = layout.mujoco_version_problem(mujoco.__version__)
        hint = (
            f"pip install '{layout.MUJOCO_PIN}'" if problem else "restore the file from the official checkout"
        )
        raise UsageError(
            f"{scene_file.name}: MuJoCo {mujoco.__version__} cannot load it: {message}", hint=hint
        ) from err


def _set_standing_qpos0(model: Any) -> None:
    # Legs and head start (and are held) where mujoco_node.cc and the kit's head_init put them.
    for name, value in layout.STANDING_JOINTS.items():
        j = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if j >= 0:
            model.qpos0[model.jnt_qposadr[j]] = value


def _arm_gains(model: Any, initial_deg: list[float]) -> tuple[list[float], list[float]]:
    """Torque-level PD gains per arm joint: the official acceleration gains times the joint's inertia."""
    data = mujoco.MjData(model)
    arms = [*layout.LEFT_ARM_JOINTS, *layout.RIGHT_ARM_JOINTS]
    dofs = []
    for name, deg in zip(arms, initial_deg, strict=True):
        j = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if j < 0:
            raise UsageError(
                f"the robot has no joint {name}",
                hint=f"use {layout.ROBOT_FILE.name} from the official checkout",
            )
        data.qpos[model.jnt_qposadr[j]] = np.radians(deg)
        dofs.append(model.jnt_dofadr[j])
    mujoco.mj_forward(model, data)
    inertia = np.zeros((model.nv, model.nv))
    mujoco.mj_fullM(model, inertia, data.qM)
    diag = np.array([inertia[d, d] + model.dof_armature[d] for d in dofs])
    return (layout.ARM_ACCEL_KP * diag).tolist(), (layout.ARM_ACCEL_KD * diag).tolist()


def scene_files(task: str, assets: Path | str | None) -> tuple[Path, Path]:
    """(scene file, robot file) of a task in the checkout, both checked to exist."""
    if task not in layout.SCENE_FILES:
        raise UsageError(f"unknown official task {task!r}", hint=f"use one of {', '.join(layout.TASKS)}")
    package = layout.resolve_checkout(assets)
    scene_file, robot_file = package / layout.SCENE_FILES[task], package / layout.ROBOT_FILE
    for path in (robot_file, scene_file):
        if not path.is_file():
            raise UsageError(
                f"official simulator file missing: {path}",
                hint=f"check out branch {layout.ICRA_BRANCH} of LejuRobotics/kuavo-ros-opensource",
            )
    return scene_file, robot_file


def load_official_scene(
    task: str, assets: Path | str | None = None, *, seed: int | None = None, max_steps: int | None = None
) -> Scene:
    """The welded robot in challenge scene `task` ("task1", "task2", "task3") from the user's checkout.

    `assets` is the checkout (or $KUAVO_SIM_ASSETS); `seed` fixes the layout seed of every episode (the
    official runner uses 42 + round); `max_steps` overrides the task's episode length at 10 Hz.
    """
    scene_file, robot_file = scene_files(task, assets)
    problem = layout.mujoco_version_problem(mujoco.__version__)
    if problem:
        raise UsageError(problem, hint=f"pip install '{layout.MUJOCO_PIN}'")
    model = compile_scene(scene_file, robot_file)
    model.opt.timestep = 1.0 / layout.PHYSICS_HZ
    _set_standing_qpos0(model)
    try:
        task_obj: OfficialTask = TASK_CLASSES[task](model, seed=seed, max_steps=max_steps)
    except ValueError as err:
        hint = f"this is not the ICRA challenge scene: check out branch {layout.ICRA_BRANCH}"
        raise UsageError(f"{scene_file}: {err}", hint=hint) from err
    kp, kd = _arm_gains(model, INITIAL_ARM_DEG[task])
    scene = Scene(
        name=task,
        model=model,
        left_arm_joints=list(layout.LEFT_ARM_JOINTS),
        right_arm_joints=list(layout.RIGHT_ARM_JOINTS),
        gripper_actuators=layout.GRIPPER_ACTUATORS,
        cameras=dict(layout.CAMERAS),
        task=task_obj,
        gripper_state_joints=layout.GRIPPER_STATE_JOINTS,
        initial_arm_q=np.radians(INITIAL_ARM_DEG[task]),
        hold_joints=[],  # legs and head are pinned by equality constraints (welded_robot_xml)
        arm_kp=kp,
        arm_kd=kd,
        welded_base=True,
        fidelity_note=OFFICIAL_FIDELITY_NOTE,
        extra={"scene_file": str(scene_file), "robot_file": str(robot_file), "physics_hz": layout.PHYSICS_HZ},
    )
    try:
        scene.check()
    except ValueError as err:
        raise UsageError(str(err), hint=f"use {layout.ROBOT_FILE.name} from the official checkout") from err
    return scene
