"""A tiny stand-in for a checkout of the official simulator, written by the tests themselves.

Same layout, file names and joint/camera/actuator/body names as kuavo-ros-opensource's ICRA branch
(src/data_challenge_simulator/models/...), with small boxes and capsules instead of the official meshes:
the official files are never copied into kuavo.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path("src/data_challenge_simulator")
MODELS = PACKAGE / "models"
XML = MODELS / "biped_s45/xml"

# Five toys and five vehicles, as scene1.xml includes them (folder -> body name).
TASK1_OBJECTS = {
    "animals/Dino_3": "dino",
    "animals/Dog": "dog",
    "animals/Elephant": "elephant",
    "animals/Shark": "shark",
    "animals/Sheep": "sheep",
    "not_animals/FIRE_TRUCK": "fire",
    "not_animals/MINI_ROLLER": "roller",
    "not_animals/School": "school",
    "not_animals/SPEED_BOAT": "boat",
    "not_animals/MINI_FIRE_ENGINE": "fire_engine",
}
ARM_AXES = ("0 1 0", "1 0 0", "0 0 1", "0 1 0", "0 0 1", "1 0 0", "0 1 0")
TETRA_OBJ = "v 0 0 0\nv 0.1 0 0\nv 0 0.1 0\nv 0 0 0.1\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n"


def _leg(side: str, y: float) -> str:
    inner = '<geom type="sphere" size="0.02" pos="0.05 0 -0.06" contype="0" conaffinity="0"/>'
    for i in range(6, 0, -1):
        axis = ("1 0 0", "0 0 1", "0 1 0", "0 1 0", "0 1 0", "1 0 0")[i - 1]
        pos = {1: f"0 {y} -0.066", 3: "0 0 -0.13", 4: "0 0 -0.28", 5: "0 0 -0.35"}.get(i, "0 0 0")
        inner = (
            f'<body name="leg_{side}{i}_link" pos="{pos}"><inertial pos="0 0 0" mass="0.5" '
            f'diaginertia="0.001 0.001 0.001"/><joint name="leg_{side}{i}_joint" axis="{axis}" '
            f'range="-2.5 2.5" damping="0.2"/>{inner}</body>'
        )
    return inner


def _gripper(side: str) -> str:
    fingers = "".join(
        f'<body name="{side}_{f}_driver" pos="0 {y} -0.06"><joint name="{side}_{f}_driver_joint" class="driver"/>'
        f'<geom type="box" size="0.01 0.005 0.03" pos="0 0 -0.03" mass="0.02"/></body>'
        for f, y in (("right", 0.03), ("left", -0.03))
    )
    return f'<body name="{side}_base" pos="0 0 -0.05" childclass="2f85">{fingers}</body>'


def _arm(side: str, y: float) -> str:
    camera = f'<camera name="{side}_wrist_camera" pos="0 {0.05 if side == "left" else -0.05} 0" fovy="60"/>'
    inner = camera + _gripper(side)
    s = side[0]
    for i in range(7, 0, -1):
        pos = {1: f"-0.0175 {y} 0.4245", 4: "0.02 0 -0.2837", 5: "-0.02 0 -0.127", 6: "0 0 -0.106"}.get(
            i, "0 0 0"
        )
        inner = (
            f'<body name="zarm_{s}{i}_link" pos="{pos}"><inertial pos="0 0 -0.05" mass="0.6" '
            f'diaginertia="0.002 0.002 0.001"/><joint name="zarm_{s}{i}_joint" axis="{ARM_AXES[i - 1]}" '
            f'range="-3.14 3.14" damping="0.2"/><geom type="capsule" size="0.03" fromto="0 0 0 0 0 -0.1" '
            f'contype="0" conaffinity="0"/>{inner}</body>'
        )
    return inner


def robot_xml(
    *, drop_joint: str | None = None, drop_camera: str | None = None, drop_actuator: str | None = None
) -> str:
    head = (
        '<body name="zhead_1_link" pos="-0.0185 0 0.6014"><joint name="zhead_1_joint" axis="0 0 1" range="-1.5 1.5"/>'
        '<inertial pos="0 0 0" mass="0.3" diaginertia="0.001 0.001 0.001"/>'
        '<body name="zhead_2_link"><joint name="zhead_2_joint" axis="0 1 0" range="-0.5 0.5"/>'
        '<inertial pos="0 0 0" mass="0.3" diaginertia="0.001 0.001 0.001"/>'
        '<camera name="head_camera" pos="0.1 0 0.12" quat="0.612372 0.353553 -0.353553 -0.612372" fovy="70"/>'
        "</body></body>"
    )
    joints = [f"leg_{s}{i}_joint" for s in "lr" for i in range(1, 7)]
    joints += [f"zarm_{s}{i}_joint" for s in "lr" for i in range(1, 8)] + ["zhead_1_joint", "zhead_2_joint"]
    motors = "".join(f'<motor name="{j}_motor" joint="{j}" gear="1" ctrlrange="-100 100"/>' for j in joints)
    grippers = "".join(
        f'<general class="2f85" name="{side}_fingers_actuator" tendon="{tendon}" forcerange="-5 5" '
        f'ctrlrange="0 255" gainprm="0.3137255 0 0" biasprm="0 -100 -10"/>'
        for side, tendon in (("left", "split1"), ("right", "split2"))
    )
    tendons = "".join(
        f'<fixed name="{tendon}"><joint joint="{side}_right_driver_joint" coef="0.5"/>'
        f'<joint joint="{side}_left_driver_joint" coef="0.5"/></fixed>'
        for side, tendon in (("left", "split1"), ("right", "split2"))
    )
    text = f"""<mujoco model="biped_s45">
  <compiler angle="radian" meshdir="../meshes/"/>
  <option cone="elliptic" impratio="10"/>
  <asset><mesh name="torso" file="torso.obj"/></asset>
  <default><default class="2f85"><general biastype="affine"/><joint axis="1 0 0"/>
    <default class="driver"><joint range="0 0.8" armature="0.005" damping="0.1"/></default>
  </default></default>
  <worldbody>
    <body name="base_link" pos="0 0 0.82">
      <freejoint/>
      <inertial pos="0 0 0.2" mass="22" diaginertia="0.9 0.8 0.3"/>
      <geom type="mesh" mesh="torso" contype="0" conaffinity="0"/>
      {_leg("l", 0.087)}{_leg("r", -0.087)}{_arm("left", 0.2927)}{_arm("right", -0.2927)}{head}
    </body>
  </worldbody>
  <tendon>{tendons}</tendon>
  <actuator>{motors}{grippers}</actuator>
</mujoco>
"""
    # The official file has this tag (no space before pos=); MuJoCo accepts it, so the fixture keeps it.
    text = text.replace(
        '<joint name="zarm_r2_joint" axis', '<joint name="zarm_r2_joint" type="hinge"pos="0 0 0" axis'
    )
    if drop_joint:
        text = text.replace(f'name="{drop_joint}"', f'name="{drop_joint}_renamed"')
        text = text.replace(f'joint="{drop_joint}"', f'joint="{drop_joint}_renamed"')
    if drop_camera:
        text = text.replace(f'name="{drop_camera}"', f'name="{drop_camera}_renamed"')
    if drop_actuator:
        text = text.replace(f'name="{drop_actuator}"', f'name="{drop_actuator}_renamed"')
    return text


def _object(body: str, pos: str, size: str = "0.03 0.03 0.03") -> str:
    return (
        f'<mujoco><worldbody><body name="{body}" pos="{pos}"><freejoint/>'
        f'<geom type="box" size="{size}" mass="0.05"/></body></worldbody></mujoco>\n'
    )


def _basket(body: str, y: float) -> str:
    walls = "".join(
        f'<geom type="box" size="{sx} {sy} 0.05" pos="{px} {py} 0.05"/>'
        for sx, sy, px, py in (
            (0.09, 0.005, 0, 0.07),
            (0.09, 0.005, 0, -0.07),
            (0.005, 0.07, 0.09, 0),
            (0.005, 0.07, -0.09, 0),
        )
    )
    return f'<mujoco><worldbody><body name="{body}" pos="0.4 {y} 0.755">{walls}</body></worldbody></mujoco>\n'


SCENE_HEAD = '<mujoco model="kuavo scene">\n  <include file="biped_s45.xml"/>\n'
FLOOR = '<geom name="floor" type="plane" size="0 0 0.05"/>'


def scene1_xml() -> str:
    includes = "".join(
        f'  <include file="../../assets/{d}/model.xml"/>\n' for d in ("basket1", "basket2", *TASK1_OBJECTS)
    )
    return f"""{SCENE_HEAD}{includes}  <worldbody>
    {FLOOR}
    <body name="belt_plate1" pos="0 0 7.95"><inertial pos="0 0 0" mass="1" diaginertia="1e-6 1e-6 1e-6"/>
      <joint name="belt_slide" type="slide" axis="0 1 0" range="-20 20" damping="0.001"/>
      <geom type="box" size="0.2 1 0.01" rgba="0 0 0 0"/></body>
    <body name="table_front" pos="0.55 0 0.75"><geom name="table_top" type="box" size="0.6 0.4 0.01" euler="0 0 1.57079633"/></body>
  </worldbody>
  <actuator><velocity name="belt_speed" joint="belt_slide" kv="100" ctrlrange="-0.1 0.1"/></actuator>
</mujoco>
"""


def _bag(name: str, pos: str) -> str:
    return (
        f'<body name="{name}" pos="{pos}"><freejoint name="{name}"/>'
        f'<geom type="sphere" size="0.001" mass="0.005" contype="0" conaffinity="0"/>'
        f'<composite type="grid" count="3 3 1" spacing="0.025" offset="0 0 0" prefix="{name}_">'
        f'<geom type="capsule" size="0.01 0.024" mass="0.001" condim="4"/>'
        f'<joint kind="main" stiffness="12" damping="8"/></composite></body>'
    )


def _belt(body: str, joint: str, y: float, z: float, axis: str = "1 0 0", size: str = "100 0.2 0.01") -> str:
    return (
        f'<body name="{body}" pos="0 {y} {z}"><inertial pos="0 0 0" mass="0.1" diaginertia="1e-6 1e-6 1e-6"/>'
        f'<joint name="{joint}" type="slide" axis="{axis}" range="-20 20" damping="0.001"/>'
        f'<geom type="box" size="{size}" rgba="0 0 0 0" friction="2 0.005 0.0001"/></body>'
    )


def _bin(name: str, x: float, y: float) -> str:
    return (
        f'<body name="{name}" pos="{x} {y} 0.5"><geom type="box" size="0.105 0.105 0.23" pos="0 0 -0.27"/>'
        f'<geom type="box" size="0.105 0.005 0.09" pos="0 0.1 0.05"/><geom type="box" size="0.105 0.005 0.09" pos="0 -0.1 0.05"/>'
        f'<geom type="box" size="0.005 0.105 0.09" pos="0.1 0 0.05"/><geom type="box" size="0.005 0.105 0.09" pos="-0.1 0 0.05"/></body>'
    )


def scene2_xml() -> str:
    return f"""{SCENE_HEAD}  <worldbody>
    {FLOOR}
    {_bag("bag_place_root", "10 10 0.9")}{_bag("bag_drop_root", "12 12 0.9")}
    {_belt("belt_plate1", "belt_slide1", -0.6, 0.75)}{_belt("belt_plate2", "belt_slide2", 0.6, 0.75)}
    <body name="table_front" pos="0.55 0 0.75"><geom name="weight_plate" type="box" pos="-0.05 0 0.03" size="0.23 0.18 0.02"/></body>
    {_bin("bin_red", 0.26, 0.15)}
  </worldbody>
  <actuator><velocity name="belt_speed" joint="belt_slide1" kv="100" ctrlrange="-0.1 0.1"/>
    <velocity name="belt_speed2" joint="belt_slide2" kv="100" ctrlrange="-0.1 0.1"/></actuator>
</mujoco>
"""


def scene3_xml() -> str:
    boxes = "".join(
        f'<body name="{b}" pos="{-50 - k} {-50 - k} 0.85"><freejoint name="{b}"/>'
        f'<geom type="box" size="0.04 0.0175 0.02" mass="0.01"/></body>'
        for k, b in enumerate(("box_red1", "box_red2", "box_black1", "box_black2"))
    )
    decor = "".join(
        f'<body name="{n}" pos="0 0 0.78"><geom type="box" size="0.2 0.2 0.01" contype="0" conaffinity="0"/></body>'
        for n in ("belt_front", "belt_back", "circle_left_front", "box_left_front")
    )
    return f"""{SCENE_HEAD}  <worldbody>
    {FLOOR}
    {_belt("belt_plate1", "belt_slide", 0.0, 0.777, axis="0 1 0", size="0.18 100 0.01").replace('pos="0 0.0', 'pos="0.5 0.0')}
    {decor}{boxes}{_bin("bin_red", 0.26, 0.01)}{_bin("bin_black", 0.26, -0.2)}
  </worldbody>
  <actuator><velocity name="belt_speed" joint="belt_slide" kv="100" ctrlrange="-0.1 0.1"/></actuator>
</mujoco>
"""


def write_official_checkout(root: Path, **robot_changes: str) -> Path:
    """Write the fixture checkout under `root` and return `root` (pass it as --assets)."""
    files = {
        XML / "biped_s45.xml": robot_xml(**robot_changes),
        XML / "scene1.xml": scene1_xml(),
        XML / "scene2.xml": scene2_xml(),
        XML / "scene3.xml": scene3_xml(),
        MODELS / "biped_s45/meshes/torso.obj": TETRA_OBJ,
        MODELS / "assets/basket1/model.xml": _basket("basket1", 0.08),
        MODELS / "assets/basket2/model.xml": _basket("basket2", -0.08),
    }
    for k, (folder, body) in enumerate(TASK1_OBJECTS.items()):
        files[MODELS / "assets" / folder / "model.xml"] = _object(body, f"-1.5 {k * 0.2 - 1} 0.05")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
