"""Small MuJoCo helpers the official tasks share: find bodies, move them, read their positions."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import mujoco
import numpy as np


def require_bodies(model: Any, names: Iterable[str], scene: str) -> dict[str, int]:
    """name -> body id; one ValueError naming every body the scene lacks."""
    return _require(model, mujoco.mjtObj.mjOBJ_BODY, "body", names, scene)


def require_actuators(model: Any, names: Iterable[str], scene: str) -> dict[str, int]:
    """name -> actuator id; one ValueError naming every actuator the scene lacks."""
    return _require(model, mujoco.mjtObj.mjOBJ_ACTUATOR, "actuator", names, scene)


def _require(model: Any, obj: Any, kind: str, names: Iterable[str], scene: str) -> dict[str, int]:
    ids = {n: mujoco.mj_name2id(model, obj, n) for n in names}
    missing = [n for n, i in ids.items() if i < 0]
    if missing:
        raise ValueError(f"{scene}: the scene has no {kind} {', '.join(missing)}")
    return ids


def free_joint(model: Any, body: int) -> int | None:
    """The id of the body's own free joint, or None for a body fixed to its parent."""
    for j in range(model.body_jntadr[body], model.body_jntadr[body] + model.body_jntnum[body]):
        if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE:
            return j
    return None


def yaw_quat(yaw: float, pitch: float = 0.0, roll: float = 0.0) -> tuple[float, float, float, float]:
    """ZYX Euler angles -> quaternion (w, x, y, z), the formula the official spawners use."""
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    return (
        cr * cp * cy + sr * sp * sy,
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
    )


def subtree(model: Any, root: int) -> list[int]:
    return [b for b in range(model.nbody) if _descends(model, b, root)]


def _descends(model: Any, body: int, root: int) -> bool:
    while body > 0:
        if body == root:
            return True
        body = model.body_parentid[body]
    return root == 0


def place_body(
    model: Any, data: Any, body: int, pos: Sequence[float], quat: Sequence[float] | None = None
) -> None:
    """Move a body: a free body through its joint (velocities of its whole subtree zeroed, as a spawn
    service does), a fixed body through the model (table and belt heights)."""
    j = free_joint(model, body)
    if j is None:
        model.body_pos[body] = pos
        if quat is not None:
            model.body_quat[body] = quat
        return
    adr = model.jnt_qposadr[j]
    data.qpos[adr : adr + 3] = pos
    if quat is not None:
        data.qpos[adr + 3 : adr + 7] = np.asarray(quat) / np.linalg.norm(quat)
    for b in subtree(model, body):
        for k in range(model.body_dofadr[b], model.body_dofadr[b] + model.body_dofnum[b]):
            data.qvel[k] = 0.0


def body_position(data: Any, body: int) -> tuple[float, float, float]:
    """World position of the body origin: what mujoco_node.cc publishes on /mujoco/<body>/pose."""
    x, y, z = data.xpos[body]
    return float(x), float(y), float(z)


def require_bodies_optional(model: Any, names: Iterable[str]) -> dict[str, int]:
    """name -> body id for the names the model has (decorative bodies the task moves when present)."""
    ids = {n: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, n) for n in names}
    return {n: i for n, i in ids.items() if i >= 0}
