"""The three ICRA challenge tasks as `Task`s: the official per-seed layout, belts, timed spawns and scoring.

The layout procedure follows the official scripts draw for draw (`examples/deploy/deploy.py` for the table
and belt heights, `examples/deploy/eval{1,2,3}.py` for object choice, spawns and spawn times), so a layout
seed gives the layout the official runner builds for the same `--seed`. Each episode's layout seed is the
seed of the runner's episode generator unless the task was made with a fixed `seed`.
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

from kuavo_cli.sim.official import bodies
from kuavo_cli.sim.official.scoring import Task1Scoring, Task2Scoring, Task3Scoring
from kuavo_cli.sim.scene import TaskResult


def deploy_heights(seed: int) -> tuple[float, float]:
    """(belt height, table height) as deploy.py's generate_cfg(seed) draws them."""
    rng = random.Random(seed)
    belt = rng.uniform(0.75, 0.85)
    table = rng.uniform(0.7, 0.8)
    return belt, table


def episode_seed(rng: np.random.Generator) -> int:
    """The layout seed of an episode: the integer its generator was made from (`default_rng(seed)`, as the
    runner does per episode), so `--seed 43` builds the official runner's first round; otherwise one draw."""
    seq = getattr(rng.bit_generator, "seed_seq", None)
    entropy = getattr(seq, "entropy", None)
    if isinstance(entropy, int) and not getattr(seq, "spawn_key", ()):
        return entropy
    return int(rng.integers(0, 2**31 - 1))


# The task string the official converter stores for every frame (kit default `dataset.task_description`; kuavo
# convert's default too): a language-conditioned policy trained on the challenge data saw only this.
DATASET_TASK_STRING = "Pick and Place"


class OfficialTask:
    name = ""
    instruction = DATASET_TASK_STRING
    description = ""
    default_max_steps = 200  # the kit's max_episode_steps

    def __init__(self, model: Any, *, seed: int | None = None, max_steps: int | None = None):
        self.fixed_seed = seed
        self.max_steps = max_steps or self.default_max_steps
        self.layout_seed: int | None = None
        self.layout: dict[str, Any] = {}  # what reset() chose, for reports and tests
        self._t0 = 0.0
        self._bind(model)

    def _bind(self, model: Any) -> None:
        raise NotImplementedError

    def _draw_seed(self, rng: np.random.Generator, data: Any) -> int:
        self._t0 = float(data.time)
        seed = self.fixed_seed if self.fixed_seed is not None else episode_seed(rng)
        self.layout_seed = seed
        self.layout = {"seed": seed}
        return seed

    def _scorer(self) -> Any:
        raise NotImplementedError

    def physics_step(self, model: Any, data: Any) -> None:
        return None

    def done(self) -> bool:
        return self._scorer().success

    def result(self) -> TaskResult:
        scorer = self._scorer()
        return TaskResult(success=scorer.success, score=scorer.score(), breakdown=scorer.breakdown())


class ToySorting(OfficialTask):
    """Task 1: one toy animal and one toy vehicle, each into its box on the table."""

    name = "task1"
    description = "Put the toy animal into the toy box and the toy vehicle into the car box."
    default_max_steps = 350  # the time score reaches 0 at 35 s
    TOYS = ("dino", "dog", "elephant", "shark", "sheep")  # eval1.py's order: the seeded choice depends on it
    CARS = ("fire", "roller", "school", "boat", "fire_engine")
    LEFT_SPAWN = ((0.23, 0.43), (0.22, 0.45))  # x, y; z = table height + 0.01
    RIGHT_SPAWN = ((0.23, 0.43), (-0.45, -0.22))

    def _bind(self, model: Any) -> None:
        names = ("table_front", "basket1", "basket2", *self.TOYS, *self.CARS)
        self.ids = bodies.require_bodies(model, names, "task1 scene")
        self.scoring = Task1Scoring(table_height=0.75)
        self.toy, self.car = self.TOYS[0], self.CARS[0]

    def reset(self, model: Any, data: Any, rng: np.random.Generator) -> None:
        seed = self._draw_seed(rng, data)
        _, table = deploy_heights(seed)
        bodies.place_body(model, data, self.ids["table_front"], (0.55, 0.0, table))
        bodies.place_body(model, data, self.ids["basket1"], (0.4, 0.08, table + 0.005))
        bodies.place_body(model, data, self.ids["basket2"], (0.4, -0.08, table + 0.005))
        choose = random.Random(seed)
        self.toy, self.car = choose.choice(self.TOYS), choose.choice(self.CARS)
        toy_left = choose.choice([0, 1]) == 0
        draw = np.random.default_rng(seed)
        regions = (self.LEFT_SPAWN, self.RIGHT_SPAWN) if toy_left else (self.RIGHT_SPAWN, self.LEFT_SPAWN)
        for obj, (xr, yr) in zip((self.toy, self.car), regions, strict=True):
            x, y = float(draw.uniform(*xr)), float(draw.uniform(*yr))
            z = float(draw.uniform(table + 0.01, table + 0.01))  # eval1.py draws z too: keep the stream
            bodies.place_body(model, data, self.ids[obj], (x, y, z))
            self.layout[obj] = (x, y, z)
        self.layout.update(toy=self.toy, car=self.car, table_height=table)
        self.scoring = Task1Scoring(table_height=table)

    def tick(self, model: Any, data: Any, t: float) -> None:
        self.scoring.update(
            t, bodies.body_position(data, self.ids[self.toy]), bodies.body_position(data, self.ids[self.car])
        )

    def _scorer(self) -> Any:
        return self.scoring.scorer


class ParcelWeighing(OfficialTask):
    """Task 2: a soft parcel arrives on a belt; weigh it on the scale, then put it at its target."""

    name = "task2"
    description = "Put the parcel on the scale, then place it at its destination."
    default_max_steps = 400  # the time score reaches 0 at 40 s
    PARCELS = ("bag_place_root", "bag_drop_root")  # eval2.py's order
    BELT_SPEEDS = {"belt_speed": 0.02, "belt_speed2": -0.02}  # m/s, started with the episode

    def _bind(self, model: Any) -> None:
        self.ids = bodies.require_bodies(model, self.PARCELS, "task2 scene")
        self.belts = bodies.require_actuators(model, self.BELT_SPEEDS, "task2 scene")
        self.scoring = Task2Scoring(self.PARCELS[0])
        self.speeds = dict(self.BELT_SPEEDS)

    def reset(self, model: Any, data: Any, rng: np.random.Generator) -> None:
        seed = self._draw_seed(rng, data)
        choose = random.Random(seed)
        parcel = choose.choice(self.PARCELS)
        draw = np.random.default_rng(seed)
        x, y, z = (float(draw.uniform(*r)) for r in ((0.25, 0.25), (-0.7, -0.5), (0.9, 0.9)))
        # eval2.py draws this yaw from Python's unseeded global generator; kuavo keeps it seeded.
        yaw = math.radians(choose.uniform(-180.0, 180.0))
        bodies.place_body(model, data, self.ids[parcel], (x, y, z), bodies.yaw_quat(yaw))
        self.layout.update(parcel=parcel, spawn=(x, y, z), yaw=yaw)
        self.scoring = Task2Scoring(parcel)
        self.speeds = dict(self.BELT_SPEEDS)
        self.physics_step(model, data)

    def physics_step(self, model: Any, data: Any) -> None:
        for actuator, speed in self.speeds.items():
            data.ctrl[self.belts[actuator]] = speed

    def tick(self, model: Any, data: Any, t: float) -> None:
        self.scoring.update(t, bodies.body_position(data, self.ids[self.scoring.parcel]))
        if self.scoring.scorer.success:  # eval2.py stops both belts at success
            self.speeds = dict.fromkeys(self.speeds, 0.0)

    def _scorer(self) -> Any:
        return self.scoring.scorer


class ConveyorSorting(OfficialTask):
    """Task 3: four parts arrive one by one on a belt; red ones into the red bin, black into the black bin."""

    name = "task3"
    description = (
        "Sort the parts from the conveyor: red ones into the red bin, black ones into the black bin."
    )
    default_max_steps = 650  # the time score reaches 0 at 65 s
    BOXES = ("box_red1", "box_black1", "box_red2", "box_black2")  # eval3.py's order before its shuffle
    BELT_SPEED = 0.012
    SPAWN_INTERVAL_S = (10.0, 14.0)
    # deploy.py moves these to the seed's belt height h: (x, y, z - h); the belt itself is belt_plate1.
    BELT_BODIES = {
        "belt_plate1": (0.5, 0.0, 0.0),
        "belt_front": (0.5, 0.0, 0.0),
        "belt_back": (-3.0, 0.0, 0.0),
        "belt_left": (-1.25, 2.7, 0.0),
        "belt_right": (-1.25, -2.7, 0.0),
        "circle_left_front": (0.3, 2.5, 0.001),
        "circle_left_back": (-2.8, 2.5, 0.001),
        "circle_right_front": (0.3, -2.5, 0.001),
        "circle_right_back": (-2.8, -2.5, 0.001),
        "box_left_front": (0.1, 2.3, -0.41),
        "box_right_front": (0.1, -2.3, -0.41),
        "box_left_back": (-2.6, 2.3, -0.41),
        "box_right_back": (-2.6, -2.3, -0.41),
    }

    def _bind(self, model: Any) -> None:
        self.ids = bodies.require_bodies(model, (*self.BOXES, "belt_plate1"), "task3 scene")
        decor = [n for n in self.BELT_BODIES if n != "belt_plate1"]
        self.decor = bodies.require_bodies_optional(model, decor)
        self.belt = bodies.require_actuators(model, ["belt_speed"], "task3 scene")["belt_speed"]
        self.scoring = Task3Scoring()
        self.schedule: list[tuple[float, str, tuple[float, float, float], tuple[float, ...]]] = []
        self._pending: list[tuple[float, str, tuple[float, float, float], tuple[float, ...]]] = []
        self.speed = self.BELT_SPEED

    @staticmethod
    def _spawn_pose(draw: np.random.Generator, orientation_first: bool) -> tuple[tuple, tuple]:
        def position() -> tuple[float, float, float]:
            return 0.4 + float(draw.uniform(-0.02, 0.10)), -0.37 + float(draw.uniform(0, 0)), 0.85

        def orientation() -> tuple[float, ...]:
            yaw = math.radians(draw.uniform(-20.0, 20.0))
            pitch = math.radians(draw.uniform(-0.0, 0.0))
            roll = math.radians(draw.uniform(-0.0, 0.0))
            return bodies.yaw_quat(yaw, pitch, roll)

        if orientation_first:  # the timer callback samples orientation, then position
            quat = orientation()
            return position(), quat
        pos = position()  # the first spawn passes position= before orientation=
        return pos, orientation()

    def reset(self, model: Any, data: Any, rng: np.random.Generator) -> None:
        seed = self._draw_seed(rng, data)
        belt, _ = deploy_heights(seed)
        all_ids = {"belt_plate1": self.ids["belt_plate1"], **self.decor}
        for name, body in all_ids.items():
            x, y, dz = self.BELT_BODIES[name]
            bodies.place_body(model, data, body, (x, y, belt + dz))
        order = list(self.BOXES)
        random.Random(seed).shuffle(order)
        draw = np.random.default_rng(seed)
        pos, quat = self._spawn_pose(draw, orientation_first=False)
        self.schedule = [(0.0, order[0], pos, quat)]
        t = float(draw.uniform(*self.SPAWN_INTERVAL_S))
        for k, name in enumerate(order[1:]):
            pos, quat = self._spawn_pose(draw, orientation_first=True)
            self.schedule.append((t, name, pos, quat))
            if k < len(order) - 2:
                t += float(draw.uniform(*self.SPAWN_INTERVAL_S))
        self.layout.update(belt_height=belt, order=order, spawn_times=[s[0] for s in self.schedule])
        self.scoring = Task3Scoring()
        self.speed = self.BELT_SPEED
        self._pending = list(self.schedule)
        self.physics_step(model, data)

    def physics_step(self, model: Any, data: Any) -> None:
        elapsed = float(data.time) - self._t0
        while self._pending and self._pending[0][0] <= elapsed + 1e-9:
            _, name, pos, quat = self._pending.pop(0)
            bodies.place_body(model, data, self.ids[name], pos, quat)
        data.ctrl[self.belt] = self.speed

    def tick(self, model: Any, data: Any, t: float) -> None:
        self.scoring.update(t, {b: bodies.body_position(data, self.ids[b]) for b in self.BOXES})
        if self.scoring.scorer.success:  # eval3.py stops the belt at success
            self.speed = 0.0

    def _scorer(self) -> Any:
        return self.scoring.scorer


TASK_CLASSES: dict[str, type[OfficialTask]] = {
    "task1": ToySorting,
    "task2": ParcelWeighing,
    "task3": ConveyorSorting,
}
