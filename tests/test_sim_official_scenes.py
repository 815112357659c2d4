"""Official scenes from a fixture checkout (written by the tests): welded base, layouts per seed, belts,
timed spawns, scoring through real MuJoCo poses, clear errors, and `kuavo sim check`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mujoco
import numpy as np
import pytest

from kuavo_cli.errors import UsageError
from kuavo_cli.sim.official import layout, load_official_scene
from kuavo_cli.sim.official.check import check_checkout
from kuavo_cli.sim.official.loader import welded_robot_xml
from kuavo_cli.sim.official.tasks import deploy_heights
from tests.cli_helpers import run_cli
from tests.sim_official_fixture import MODELS, XML, write_official_checkout


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_official_checkout(tmp_path_factory.mktemp("kuavo-ros-opensource"))


def _episode(scene, seed: int = 0):
    model, data = scene.model, mujoco.MjData(scene.model)
    scene.task.reset(model, data, np.random.default_rng(seed))
    mujoco.mj_forward(model, data)
    return model, data


def _body(model, name: str) -> int:
    return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)


def _put(model, data, name: str, pos) -> None:
    """Hand-place a free body (as a grasp and release would leave it) and refresh the poses."""
    j = model.body_jntadr[_body(model, name)]
    data.qpos[model.jnt_qposadr[j] : model.jnt_qposadr[j] + 3] = pos
    mujoco.mj_forward(model, data)


# --- loader ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", layout.TASKS)
def test_each_scene_loads_with_the_base_welded_at_the_standing_pose(checkout, task):
    scene = load_official_scene(task, checkout)
    model = scene.model
    base = _body(model, "base_link")
    assert model.body_jntnum[base] == 0  # the free joint is gone: nothing to balance
    assert model.opt.timestep == pytest.approx(1 / 500)
    assert scene.welded_base and scene.cameras == {
        "head_cam_h": "head_camera", "wrist_cam_l": "left_wrist_camera", "wrist_cam_r": "right_wrist_camera",
    }  # fmt: skip
    assert scene.gripper_actuators == ("left_fingers_actuator", "right_fingers_actuator")
    assert scene.left_arm_joints[0] == "zarm_l1_joint" and scene.right_arm_joints[-1] == "zarm_r7_joint"
    assert len(scene.initial_arm_q) == 14 and scene.hold_joints == []
    assert len(scene.arm_kp) == 14 and all(kp > 0 for kp in scene.arm_kp)
    knee, head = (
        mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in ("leg_l4_joint", "zhead_2_joint")
    )
    assert model.qpos0[model.jnt_qposadr[knee]] == pytest.approx(0.73860)
    pins = [model.eq(i).name for i in range(model.neq) if model.eq(i).name.startswith("kuavo_pin_")]
    assert len(pins) == len(layout.STANDING_JOINTS)  # legs and head pinned by equality constraints
    data = mujoco.MjData(model)
    for _ in range(200):  # 0.4 s with no control at all: a welded base cannot fall, pinned joints stay
        mujoco.mj_step(model, data)
    np.testing.assert_allclose(data.xpos[base], layout.BASE_STANDING_POS, atol=1e-9)
    assert data.qpos[model.jnt_qposadr[knee]] == pytest.approx(0.73860, abs=0.01)
    assert data.qpos[model.jnt_qposadr[head]] == pytest.approx(0.209, abs=0.01)
    assert scene.task.name == task and scene.task.max_steps > 0
    assert scene.task.instruction == "Pick and Place"  # the string every frame of the challenge data carries


def test_assets_come_from_the_environment_when_not_given(checkout, monkeypatch):
    monkeypatch.setenv(layout.ENV_VAR, str(checkout))
    assert load_official_scene("task3").name == "task3"
    monkeypatch.delenv(layout.ENV_VAR)
    with pytest.raises(UsageError, match="no official simulator checkout given") as err:
        load_official_scene("task3")
    assert layout.ENV_VAR in err.value.hint


def test_the_package_folder_and_models_folder_are_accepted(checkout):
    assert load_official_scene("task1", checkout / "src/data_challenge_simulator").name == "task1"
    assert load_official_scene("task1", checkout / MODELS).name == "task1"


def test_missing_scene_file_is_one_clear_line(checkout, tmp_path):
    broken = shutil.copytree(checkout, tmp_path / "co")
    (broken / XML / "scene2.xml").unlink()
    with pytest.raises(UsageError) as err:
        load_official_scene("task2", broken)
    line = err.value.one_line()
    assert "official simulator file missing" in line and "scene2.xml" in line and "\n" not in line


def test_missing_referenced_file_names_that_file(checkout, tmp_path):
    broken = shutil.copytree(checkout, tmp_path / "co")
    (broken / MODELS / "assets/animals/Dog/model.xml").unlink()
    with pytest.raises(UsageError) as err:
        load_official_scene("task1", broken)
    assert "a file it references is missing" in err.value.message and "Dog/model.xml" in err.value.message
    (broken / MODELS / "biped_s45/meshes/torso.obj").unlink()
    with pytest.raises(UsageError, match="torso.obj"):
        load_official_scene("task3", broken)


def test_unsupported_mujoco_version_is_one_clear_line():
    assert layout.mujoco_version_problem("3.2.7") is None and layout.mujoco_version_problem("3.0.1") is None
    problem = layout.mujoco_version_problem("3.3.0")
    assert "MuJoCo 3.3.0 cannot load the official scenes" in problem and "3.0-3.2" in problem
    assert layout.mujoco_version_problem("2.3.7") is not None


def test_missing_robot_joint_is_named(tmp_path):
    root = write_official_checkout(tmp_path, drop_joint="zarm_l3_joint")
    with pytest.raises(UsageError, match="zarm_l3_joint"):
        load_official_scene("task1", root)


def test_weld_patch_keeps_the_rest_of_the_file_byte_for_byte():
    text = (
        '<mujoco><worldbody><body name="base_link" pos="0 0 0.82" euler="0 0 0"><freejoint />'
        '<geom size="0.1"/><body name="child"><freejoint/><geom size="0.1"/></body></body></worldbody></mujoco>'
    )
    out = welded_robot_xml(text)
    assert out.count("<freejoint") == 1  # the child's own free joint is not the base's
    assert (
        'pos="-0.00505 0 0.84414" quat="0.99864 0 0.05215 0"' in out and "euler" not in out.split("<geom")[0]
    )
    assert out.endswith(
        '<geom size="0.1"/><body name="child"><freejoint/><geom size="0.1"/></body></body></worldbody></mujoco>'
    )
    with pytest.raises(UsageError, match="base_link"):
        welded_robot_xml("<mujoco/>")
    long_form = welded_robot_xml(
        '<mujoco><worldbody><body name="base_link"><joint type="free" name="b"/></body></worldbody></mujoco>'
    )
    assert "joint" not in long_form.split("<equality>")[0]


# --- tasks in the loaded scenes -------------------------------------------------------------------------


def test_task1_layout_follows_the_seed_and_hand_placed_objects_score(checkout):
    scene = load_official_scene("task1", checkout, seed=43)
    model, data = _episode(scene)
    task = scene.task
    _, table = deploy_heights(43)
    assert task.layout["table_height"] == pytest.approx(table) and 0.7 <= table <= 0.8
    assert data.xpos[_body(model, "table_front")][2] == pytest.approx(table)
    assert data.xpos[_body(model, "basket1")][2] == pytest.approx(table + 0.005)
    assert task.toy in task.TOYS and task.car in task.CARS
    for obj in (task.toy, task.car):
        x, y, z = data.xpos[_body(model, obj)]
        assert 0.23 <= x <= 0.43 and 0.22 <= abs(y) <= 0.45 and z == pytest.approx(table + 0.01)
    assert np.sign(data.xpos[_body(model, task.toy)][1]) != np.sign(data.xpos[_body(model, task.car)][1])
    again = load_official_scene("task1", checkout, seed=43)
    _episode(again)
    assert again.task.layout == task.layout  # same seed, same layout
    task.tick(model, data, 1.0)
    assert task.result().score == 0 and not task.done()
    _put(model, data, task.toy, (0.40, -0.08, table + 0.04))
    task.tick(model, data, 3.0)
    assert task.result().breakdown["toy_pos"] == 40 and not task.done()
    _put(model, data, task.car, (0.40, 0.08, table + 0.04))
    task.tick(model, data, 18.0)
    result = task.result()
    assert result.success and task.done() and result.score == 97  # 40 + 40 + (20 - 3 s late)


def test_task1_seeds_differ(checkout):
    scene = load_official_scene("task1", checkout)
    layouts = []
    for seed in range(4):
        _episode(scene, seed)
        layouts.append(json.dumps(scene.task.layout, sort_keys=True))
    assert len(set(layouts)) == 4


def test_task2_parcel_rides_the_belt_and_scores_at_scale_and_target(checkout):
    scene = load_official_scene("task2", checkout, seed=44)
    model, data = _episode(scene)
    task = scene.task
    parcel = task.layout["parcel"]
    assert parcel in ("bag_place_root", "bag_drop_root")
    x, y, z = data.xpos[_body(model, parcel)]
    assert x == pytest.approx(0.25) and -0.7 <= y <= -0.5 and z == pytest.approx(0.9)
    belt = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, "belt_slide1")
    for _ in range(250):  # 0.5 s
        task.physics_step(model, data)
        mujoco.mj_step(model, data)
    assert data.qvel[model.jnt_dofadr[belt]] == pytest.approx(0.02, abs=2e-3)
    _put(model, data, parcel, (0.40, 0.0, 0.78))  # on the scale
    task.tick(model, data, 10.0)
    assert task.result().breakdown["intermediate_pos"] == 40 and not task.done()
    target = (0.0, 0.6, 0.77) if parcel == "bag_place_root" else (0.26, 0.15, 0.55)
    _put(model, data, parcel, target)
    task.tick(model, data, 12.0)
    assert task.done() and task.result().score == 100
    task.physics_step(model, data)
    belts = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, n) for n in ("belt_speed", "belt_speed2")]
    assert [data.ctrl[b] for b in belts] == [0.0, 0.0]  # stopped at success, as eval2.py does


def test_task3_belt_height_timed_spawns_and_sorting(checkout):
    scene = load_official_scene("task3", checkout, seed=45)
    model, data = _episode(scene)
    task = scene.task
    belt_height, _ = deploy_heights(45)
    assert data.xpos[_body(model, "belt_plate1")][2] == pytest.approx(belt_height)
    assert data.xpos[_body(model, "belt_front")][2] == pytest.approx(belt_height)
    times = task.layout["spawn_times"]
    assert times[0] == 0.0 and all(10.0 <= b - a <= 14.0 for a, b in zip(times, times[1:], strict=False))
    first, second = task.layout["order"][:2]
    x, y, z = data.xpos[_body(model, first)]
    assert 0.38 <= x <= 0.50 and y == pytest.approx(-0.37) and z == pytest.approx(0.85)
    assert data.xpos[_body(model, second)][0] < -40  # still parked off stage
    data.time = times[1] - 0.01
    task.physics_step(model, data)
    mujoco.mj_forward(model, data)
    assert data.xpos[_body(model, second)][0] < -40
    data.time = times[1] + 0.001
    task.physics_step(model, data)
    mujoco.mj_forward(model, data)
    assert data.xpos[_body(model, second)][0] > 0.3  # spawned on the belt at its time
    belt = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, "belt_speed")
    assert data.ctrl[belt] == pytest.approx(0.012)
    for name in task.BOXES:
        _put(model, data, name, (0.26, 0.01 if "red" in name else -0.2, 0.5))
    task.tick(model, data, 50.0)
    assert task.done() and task.result().score == 100
    task.physics_step(model, data)
    assert data.ctrl[belt] == 0.0


# --- kuavo sim check --------------------------------------------------------------------------------------


def test_sim_check_passes_on_the_fixture(checkout):
    result = run_cli("sim", "check", "--assets", str(checkout))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "all checks passed" in result.stdout and "scene task2" in result.stdout
    as_json = run_cli("sim", "check", "--assets", str(checkout), "--json", "--task", "task3")
    report = json.loads(as_json.stdout)
    assert report["ok"] and [i["check"] for i in report["items"]][-1] == "scene task3"


def test_sim_check_names_each_problem_with_one_fix(tmp_path):
    root = write_official_checkout(
        tmp_path, drop_camera="left_wrist_camera", drop_actuator="right_fingers_actuator"
    )
    (root / XML / "scene3.xml").unlink()
    result = run_cli("sim", "check", "--assets", str(root), "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    problems = {i["check"]: i for i in report["items"] if i["status"] == "fail"}
    assert set(problems) == {"file task3", "robot cameras", "robot gripper actuators"}
    assert "left_wrist_camera" in problems["robot cameras"]["detail"]
    assert "right_fingers_actuator" in problems["robot gripper actuators"]["detail"]
    assert all(p["fix"] for p in problems.values())
    skipped = [i["check"] for i in report["items"] if i["status"] == "skipped"]
    assert skipped == ["scene task1", "scene task2", "scene task3"]  # robot problems: scenes not loaded
    text = run_cli("sim", "check", "--assets", str(root))
    assert text.exit_code == 2 and "3 problem(s)" in text.stdout and text.stdout.count("fix:") == 3


def test_sim_check_reports_a_scene_that_does_not_load(checkout, tmp_path):
    broken = shutil.copytree(checkout, tmp_path / "co")
    (broken / MODELS / "assets/animals/Sheep/model.xml").unlink()
    report = check_checkout(broken)
    failed = [i for i in report.items if i.status == "fail"]
    assert [i.check for i in failed] == ["scene task1"] and "Sheep/model.xml" in failed[0].detail


def test_sim_check_unsupported_mujoco_skips_the_scenes_with_one_fix(checkout):
    report = check_checkout(checkout, mujoco_version="3.3.2")
    failed = [i for i in report.items if i.status == "fail"]
    assert [i.check for i in failed] == ["mujoco"] and "pip install 'mujoco>=3.1,<3.3'" in failed[0].fix
    assert all(i.status == "skipped" for i in report.items if i.check.startswith("scene"))


def test_sim_check_without_a_checkout_is_one_problem(tmp_path):
    result = run_cli("sim", "check", "--assets", str(tmp_path))
    assert result.exit_code == 2 and "does not look like a kuavo-ros-opensource checkout" in result.stdout


def test_the_episode_seed_is_the_layout_seed(checkout):
    scene = load_official_scene("task3", checkout)
    _episode(scene, seed=43)  # the runner makes each episode's generator with default_rng(seed)
    assert scene.task.layout_seed == 43
    fixed = load_official_scene("task3", checkout, seed=43)
    _episode(fixed, seed=7)
    assert fixed.task.layout == scene.task.layout
    spawned = np.random.default_rng(43).spawn(1)[0]  # not made from an integer: one draw from it instead
    scene.task.reset(scene.model, mujoco.MjData(scene.model), spawned)
    assert scene.task.layout_seed != 43


def test_arm_gains_track_a_step_under_the_runners_pd_law(checkout):
    """tau = kp (q* - q) - kd qd + bias at 500 Hz (the runner's law) with the scene's per-joint gains."""
    scene = load_official_scene("task1", checkout)
    model = scene.model
    data = mujoco.MjData(model)
    dofs = [
        model.jnt_dofadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n)] for n in scene.arm_joints()
    ]
    qadr = [
        model.jnt_qposadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n)] for n in scene.arm_joints()
    ]
    data.qpos[qadr] = scene.initial_arm_q
    mujoco.mj_forward(model, data)
    target = scene.initial_arm_q + 0.2
    kp, kd = np.asarray(scene.arm_kp), np.asarray(scene.arm_kd)
    for _ in range(500):  # 1 s
        data.qfrc_applied[dofs] = (
            kp * (target - data.qpos[qadr]) - kd * data.qvel[dofs] + data.qfrc_bias[dofs]
        )
        mujoco.mj_step(model, data)
    assert np.all(np.isfinite(data.qpos))
    assert np.median(np.abs(data.qpos[qadr] - target)) < 0.02
