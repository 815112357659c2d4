"""`kuavo sim check`: validate a checkout of the official simulator, one fix per problem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import mujoco
import numpy as np
from pydantic import BaseModel, ConfigDict

from kuavo_cli.errors import KuavoError
from kuavo_cli.sim.official import layout
from kuavo_cli.sim.official.loader import load_official_scene, welded_robot_xml
from kuavo_cli.sim.scene import CAMERA_NAMES

SMOKE_STEPS = 50  # physics steps after a reset: 0.1 s at 500 Hz, enough to catch an exploding scene


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckItem(_Model):
    check: str
    status: Literal["ok", "fail", "skipped"]
    detail: str
    fix: str | None = None


class CheckReport(_Model):
    assets: str
    mujoco_version: str
    ok: bool
    items: list[CheckItem]

    def problems(self) -> list[CheckItem]:
        return [i for i in self.items if i.status == "fail"]


def _robot_items(robot_file: Path) -> list[CheckItem]:
    try:
        text = welded_robot_xml(robot_file.read_text(encoding="utf-8"), str(robot_file))
        model = mujoco.MjModel.from_xml_path(str(robot_file), {robot_file.name: text.encode()})
    except (KuavoError, ValueError) as err:
        line = err.one_line() if isinstance(err, KuavoError) else " ".join(str(err).split())
        fix = f"restore {layout.ROBOT_FILE} from branch {layout.ICRA_BRANCH}"
        return [CheckItem(check="robot model", status="fail", detail=line, fix=fix)]
    items = [
        CheckItem(
            check="robot model",
            status="ok",
            detail=f"{robot_file.name} compiles with {layout.BASE_BODY} welded at the standing pose "
            f"({model.nq} joint coordinates, {model.nu} actuators)",
        )
    ]
    wanted = (
        ("arm joints", mujoco.mjtObj.mjOBJ_JOINT, [*layout.LEFT_ARM_JOINTS, *layout.RIGHT_ARM_JOINTS]),
        ("gripper joints", mujoco.mjtObj.mjOBJ_JOINT, list(layout.GRIPPER_STATE_JOINTS)),
        ("gripper actuators", mujoco.mjtObj.mjOBJ_ACTUATOR, list(layout.GRIPPER_ACTUATORS)),
        ("cameras", mujoco.mjtObj.mjOBJ_CAMERA, [layout.CAMERAS[k] for k in CAMERA_NAMES]),
    )
    for label, kind, names in wanted:
        missing = [n for n in names if mujoco.mj_name2id(model, kind, n) < 0]
        if missing:
            items.append(
                CheckItem(
                    check=f"robot {label}",
                    status="fail",
                    detail=f"missing {', '.join(missing)}",
                    fix=f"kuavo maps the Kuavo 4.5 (biped_s45) names; restore {layout.ROBOT_FILE.name} "
                    f"from branch {layout.ICRA_BRANCH}",
                )
            )
        else:
            items.append(CheckItem(check=f"robot {label}", status="ok", detail=", ".join(names)))
    return items


def _scene_item(task: str, package: Path) -> CheckItem:
    try:
        scene = load_official_scene(task, package, seed=43)
        model = scene.model
        data = mujoco.MjData(model)
        scene.task.reset(model, data, np.random.default_rng(0))
        for _ in range(SMOKE_STEPS):
            scene.task.physics_step(model, data)
            mujoco.mj_step(model, data)
        if not np.all(np.isfinite(data.qpos)):
            raise KuavoError(f"{task}: the physics diverged within {SMOKE_STEPS} steps")
    except KuavoError as err:
        fix = err.hint or f"restore the scene from branch {layout.ICRA_BRANCH}"
        return CheckItem(check=f"scene {task}", status="fail", detail=err.message, fix=fix)
    return CheckItem(
        check=f"scene {task}",
        status="ok",
        detail=f"{layout.SCENE_FILES[task].name}: {model.nbody} bodies, {model.nq} joint coordinates, "
        f"{1 / model.opt.timestep:g} Hz physics; layout of seed 43 placed, {SMOKE_STEPS} steps stable",
    )


def check_checkout(
    assets: Path | str | None,
    tasks: tuple[str, ...] = layout.TASKS,
    mujoco_version: str | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> CheckReport:
    """Check files, MuJoCo version, robot names and every scene of a checkout; never raises for a bad one.

    `on_progress` hears what is being compiled (the official meshes take seconds per model)."""
    version = mujoco_version or mujoco.__version__
    progress = on_progress or (lambda _message: None)
    items: list[CheckItem] = []
    try:
        package = layout.resolve_checkout(assets)
    except KuavoError as err:
        items.append(CheckItem(check="checkout", status="fail", detail=err.message, fix=err.hint))
        return CheckReport(assets=str(assets or ""), mujoco_version=version, ok=False, items=items)
    items.append(CheckItem(check="checkout", status="ok", detail=str(package)))

    version_problem = layout.mujoco_version_problem(version)
    items.append(
        CheckItem(
            check="mujoco", status="fail", detail=version_problem, fix=f"pip install '{layout.MUJOCO_PIN}'"
        )
        if version_problem
        else CheckItem(
            check="mujoco", status="ok", detail=f"MuJoCo {version} (the official scenes need 3.0-3.2)"
        )
    )

    files = {"robot": layout.ROBOT_FILE, **{t: layout.SCENE_FILES[t] for t in tasks}}
    present: dict[str, bool] = {}
    for label, rel in files.items():
        present[label] = (package / rel).is_file()
        items.append(
            CheckItem(check=f"file {label}", status="ok", detail=str(rel))
            if present[label]
            else CheckItem(
                check=f"file {label}",
                status="fail",
                detail=f"missing {rel}",
                fix=f"check out branch {layout.ICRA_BRANCH} of LejuRobotics/kuavo-ros-opensource",
            )
        )

    robot_ok = present["robot"]
    if robot_ok:
        progress(f"compiling {layout.ROBOT_FILE.name}")
        robot_items = _robot_items(package / layout.ROBOT_FILE)
        items += robot_items
        robot_ok = all(i.status == "ok" for i in robot_items)

    for task in tasks:
        if not (present[task] and robot_ok) or version_problem:
            why = "MuJoCo version" if version_problem else "robot or scene file problems above"
            items.append(CheckItem(check=f"scene {task}", status="skipped", detail=f"not loaded: {why}"))
        else:
            progress(f"loading {task} ({layout.SCENE_FILES[task].name})")
            items.append(_scene_item(task, package))
    ok = all(i.status == "ok" for i in items)
    return CheckReport(assets=str(package), mujoco_version=version, ok=ok, items=items)
