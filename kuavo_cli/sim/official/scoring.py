"""The official ICRA evaluators' scoring rules, as pure functions of object positions and elapsed time.

Rewritten from `utils/evaluator.py` (ScoringEvaluator1/2/3) and `examples/deploy/eval{1,2,3}.py` of the
official simulator (branch opensource/kuavo-data-challenge-icra); no code copied. The evaluators run at 10 Hz
on body positions (`/mujoco/<body>/pose`, the body origin in world coordinates). Region points are sticky:
awarded the first time the object is inside its box and never taken back. The success rule fires once and
adds the time score: full points up to a threshold, then minus a penalty per second, never below zero.
The score file the official runner reads holds int(total), so the reported score is the truncated total.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Box = tuple[tuple[float, float], tuple[float, float], tuple[float, float]]  # (x range, y range, z range)
Position = Sequence[float]


def in_box(position: Position | None, box: Box) -> bool:
    """Inclusive on every bound, as `Utils.is_in_target_region`; a missing position is outside."""
    if position is None:
        return False
    return all(low <= float(position[axis]) <= high for axis, (low, high) in enumerate(box))


@dataclass(frozen=True)
class TimeRule:
    full: float  # points when the success rule fires within `threshold_s`
    threshold_s: float
    penalty_per_s: float

    def score(self, elapsed_s: float) -> float:
        if elapsed_s <= self.threshold_s:
            return float(self.full)
        return max(0.0, self.full - (elapsed_s - self.threshold_s) * self.penalty_per_s)


@dataclass
class StickyScorer:
    """Sticky region points plus a one-time success with its time score (and an optional bonus)."""

    points: dict[str, float]  # rule name -> points, in the official component names
    time_rule: TimeRule
    bonus: float = 0.0
    awarded: dict[str, bool] = field(init=False)
    success: bool = field(default=False, init=False)
    success_time_s: float | None = field(default=None, init=False)
    time_points: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.awarded = dict.fromkeys(self.points, False)

    def award(self, rule: str, inside: bool) -> None:
        if inside:
            self.awarded[rule] = True

    def succeed(self, elapsed_s: float) -> None:
        if not self.success:
            self.success = True
            self.success_time_s = elapsed_s
            self.time_points = self.time_rule.score(elapsed_s)

    def total(self) -> float:
        region = sum(p for rule, p in self.points.items() if self.awarded[rule])
        return region + (self.bonus if self.success else 0.0) + self.time_points

    def score(self) -> float:
        return float(math.floor(self.total()))  # the official score file holds int(total)

    def breakdown(self) -> dict[str, float]:
        out = {rule: (p if self.awarded[rule] else 0.0) for rule, p in self.points.items()}
        if self.bonus:
            out["bonus"] = self.bonus if self.success else 0.0
        out["time"] = round(self.time_points, 6)
        return out


class Task1Scoring:
    """Toy sorting: the toy into the toy box (+40), the car into the car box (+40); both -> success + time.

    eval1.py: regions follow the table height (basket1's z - 0.005); time 20 points up to 15 s, -1 per s.
    """

    TIME = TimeRule(full=20, threshold_s=15, penalty_per_s=1)

    def __init__(self, table_height: float):
        h = table_height
        self.toy_box: Box = ((0.31, 0.49), (-0.15, 0.0), (h, h + 0.12))
        self.car_box: Box = ((0.31, 0.49), (0.0, 0.15), (h, h + 0.12))
        self.scorer = StickyScorer({"toy_pos": 40, "car_pos": 40}, self.TIME)

    def update(self, elapsed_s: float, toy: Position | None, car: Position | None) -> None:
        if toy is None or car is None:  # eval1.py skips a tick without both poses
            return
        self.scorer.award("toy_pos", in_box(toy, self.toy_box))
        self.scorer.award("car_pos", in_box(car, self.car_box))
        if self.scorer.awarded["toy_pos"] and self.scorer.awarded["car_pos"]:
            self.scorer.succeed(elapsed_s)


class Task2Scoring:
    """Parcel weighing: the parcel on the scale (+40, sticky), then at its target (+40) -> success + time.

    eval2.py: the target depends on which parcel the seed chose: `bag_place_root` goes onto the second belt,
    `bag_drop_root` into the red bin. Success needs only the target; the scale points are independent.
    Time 20 points up to 20 s, -1 per s.
    """

    TIME = TimeRule(full=20, threshold_s=20, penalty_per_s=1)
    SCALE: Box = ((0.28, 0.52), (-0.12, 0.12), (0.74, 0.82))
    TARGETS: Mapping[str, Box] = {
        "bag_place_root": ((-0.5, 0.5), (0.4, 0.8), (0.74, 0.8)),
        "bag_drop_root": ((0.12, 0.40), (-0.02, 0.25), (0.46, 0.66)),
    }

    def __init__(self, parcel: str):
        if parcel not in self.TARGETS:
            raise ValueError(f"task2 parcel must be one of {', '.join(self.TARGETS)}, not {parcel!r}")
        self.parcel = parcel
        self.target: Box = self.TARGETS[parcel]
        self.scorer = StickyScorer({"intermediate_pos": 40, "final_pos": 40}, self.TIME)

    def update(self, elapsed_s: float, parcel: Position | None) -> None:
        if parcel is None:
            return
        self.scorer.award("intermediate_pos", in_box(parcel, self.SCALE))
        at_target = in_box(parcel, self.target)
        self.scorer.award("final_pos", at_target)
        if at_target:
            self.scorer.succeed(elapsed_s)


class Task3Scoring:
    """Conveyor sorting: each red box into the red bin, each black box into the black bin (+20 each, sticky).

    eval3.py: success needs all four inside their bins at the same tick; it adds a 10 point bonus and the
    time score (10 points up to 55 s, -1 per s). The bins do not move with the belt height.
    """

    TIME = TimeRule(full=10, threshold_s=55, penalty_per_s=1)
    RED_BIN: Box = ((0.155, 0.365), (-0.095, 0.115), (0.46, 0.55))
    BLACK_BIN: Box = ((0.155, 0.365), (-0.305, -0.095), (0.46, 0.55))
    BOXES = ("box_red1", "box_black1", "box_red2", "box_black2")

    def __init__(self) -> None:
        self.scorer = StickyScorer({f"{b}_pos": 20 for b in self.BOXES}, self.TIME, bonus=10)

    def bin_for(self, box: str) -> Box:
        return self.RED_BIN if "red" in box else self.BLACK_BIN

    def update(self, elapsed_s: float, positions: Mapping[str, Position | None]) -> None:
        if any(positions.get(b) is None for b in self.BOXES):  # eval3.py skips a tick without all four
            return
        inside = {b: in_box(positions[b], self.bin_for(b)) for b in self.BOXES}
        for box, ok in inside.items():
            self.scorer.award(f"{box}_pos", ok)
        if all(inside.values()):
            self.scorer.succeed(elapsed_s)
