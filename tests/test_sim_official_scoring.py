"""The ICRA evaluators' rules with hand-placed object positions: every region, sticky point and success rule."""

from __future__ import annotations

import pytest

from kuavo_cli.sim.official.scoring import Task1Scoring, Task2Scoring, Task3Scoring, TimeRule, in_box

H = 0.75  # table height of the hand-made task 1 layouts
TOY_IN = (0.40, -0.08, H + 0.05)  # toy box: x 0.31-0.49, y -0.15-0, z h-h+0.12
CAR_IN = (0.40, 0.08, H + 0.05)  # car box: x 0.31-0.49, y 0-0.15
ON_TABLE = (0.33, 0.30, H + 0.01)


def test_region_bounds_are_inclusive_and_a_missing_pose_is_outside():
    box = ((0.0, 1.0), (0.0, 1.0), (0.0, 1.0))
    assert in_box((0.0, 1.0, 0.5), box) and in_box((1.0, 0.0, 1.0), box)
    assert not in_box((1.0001, 0.5, 0.5), box) and not in_box((0.5, -0.0001, 0.5), box)
    assert not in_box((0.5, 0.5, 1.01), box) and not in_box(None, box)


def test_time_rule_full_until_threshold_then_penalty_never_negative():
    rule = TimeRule(full=20, threshold_s=15, penalty_per_s=1)
    assert rule.score(3.0) == 20 and rule.score(15.0) == 20
    assert rule.score(20.0) == 15 and rule.score(34.5) == pytest.approx(0.5) and rule.score(90.0) == 0


class TestTask1ToySorting:
    def test_toy_in_toy_box_scores_40_without_success(self):
        s = Task1Scoring(H)
        s.update(2.0, TOY_IN, ON_TABLE)
        assert s.scorer.breakdown() == {"toy_pos": 40, "car_pos": 0, "time": 0} and not s.scorer.success
        assert s.scorer.score() == 40

    def test_objects_in_the_wrong_box_score_nothing(self):
        s = Task1Scoring(H)
        s.update(2.0, CAR_IN, TOY_IN)  # toy in the car box, car in the toy box
        assert s.scorer.score() == 0 and not s.scorer.success

    def test_box_edges_and_height_window(self):
        s = Task1Scoring(H)
        s.update(1.0, (0.31, -0.15, H), ON_TABLE)  # corner of the toy box, at the table surface: inside
        assert s.scorer.awarded["toy_pos"]
        for outside in (
            (0.3099, -0.08, H + 0.05),
            (0.40, 0.001, H + 0.05),
            (0.40, -0.08, H + 0.1201),
            (0.4, -0.08, H - 0.001),
        ):
            other = Task1Scoring(H)
            other.update(1.0, outside, ON_TABLE)
            assert not other.scorer.awarded["toy_pos"], outside

    def test_regions_follow_the_seeds_table_height(self):
        low, high = Task1Scoring(0.70), Task1Scoring(0.80)
        pos = (0.40, -0.08, 0.75)
        low.update(1.0, pos, ON_TABLE)
        high.update(1.0, pos, ON_TABLE)
        assert low.scorer.awarded["toy_pos"] and not high.scorer.awarded["toy_pos"]

    def test_points_are_sticky_and_success_needs_both_then_adds_time(self):
        s = Task1Scoring(H)
        s.update(4.0, TOY_IN, ON_TABLE)
        s.update(6.0, ON_TABLE, ON_TABLE)  # toy taken out again: its 40 stay
        assert s.scorer.score() == 40 and not s.scorer.success
        s.update(9.0, ON_TABLE, CAR_IN)  # both awarded (not simultaneously): success at 9 s
        assert s.scorer.success and s.scorer.success_time_s == 9.0
        assert s.scorer.breakdown() == {"toy_pos": 40, "car_pos": 40, "time": 20} and s.scorer.score() == 100
        s.update(30.0, TOY_IN, CAR_IN)  # success fires once: no second time score
        assert s.scorer.score() == 100

    @pytest.mark.parametrize(("t", "score"), [(15.0, 100), (15.5, 99), (20.0, 95), (40.0, 80)])
    def test_late_success_loses_a_point_per_second_and_the_total_is_truncated(self, t, score):
        s = Task1Scoring(H)
        s.update(t, TOY_IN, CAR_IN)
        assert s.scorer.success and s.scorer.score() == score

    def test_tick_without_both_poses_is_skipped(self):
        s = Task1Scoring(H)
        s.update(1.0, TOY_IN, None)
        assert s.scorer.score() == 0


SCALE = (0.40, 0.0, 0.78)  # scale: x 0.28-0.52, y -0.12-0.12, z 0.74-0.82
BELT2 = (0.0, 0.6, 0.77)  # bag_place_root target: x -0.5-0.5, y 0.4-0.8, z 0.74-0.8
RED_BIN2 = (0.26, 0.15, 0.55)  # bag_drop_root target: x 0.12-0.40, y -0.02-0.25, z 0.46-0.66
ON_BELT1 = (0.25, -0.6, 0.77)


class TestTask2ParcelWeighing:
    def test_scale_scores_40_sticky_without_success(self):
        s = Task2Scoring("bag_place_root")
        s.update(3.0, SCALE)
        s.update(4.0, ON_BELT1)
        assert (
            s.scorer.breakdown() == {"intermediate_pos": 40, "final_pos": 0, "time": 0}
            and not s.scorer.success
        )

    @pytest.mark.parametrize(
        ("parcel", "target", "wrong"),
        [("bag_place_root", BELT2, RED_BIN2), ("bag_drop_root", RED_BIN2, BELT2)],
    )
    def test_each_parcel_has_its_own_target(self, parcel, target, wrong):
        s = Task2Scoring(parcel)
        s.update(5.0, wrong)
        assert not s.scorer.success and s.scorer.score() == 0
        s.update(6.0, target)  # success needs only the target: 40 + full time, no scale points
        assert s.scorer.success and s.scorer.breakdown() == {
            "intermediate_pos": 0,
            "final_pos": 40,
            "time": 20,
        }

    def test_scale_then_target_late(self):
        s = Task2Scoring("bag_place_root")
        s.update(8.0, SCALE)
        s.update(25.0, BELT2)  # 5 s past the 20 s threshold
        assert s.scorer.score() == 95

    def test_target_height_window(self):
        s = Task2Scoring("bag_place_root")
        s.update(1.0, (0.0, 0.6, 0.95))  # carried over the belt, too high
        assert not s.scorer.success

    def test_unknown_parcel_is_refused(self):
        with pytest.raises(ValueError, match="bag_place_root"):
            Task2Scoring("box")


RED = (0.26, 0.01, 0.50)  # red bin: x 0.155-0.365, y -0.095-0.115, z 0.46-0.55
BLACK = (0.26, -0.20, 0.50)  # black bin: y -0.305 - -0.095
BELT = (0.45, -0.37, 0.8)


def _boxes(**where):
    return {b: where.get(b, BELT) for b in Task3Scoring.BOXES}


class TestTask3ConveyorSorting:
    def test_each_box_in_its_own_bin_scores_20(self):
        s = Task3Scoring()
        s.update(5.0, _boxes(box_red1=RED, box_black2=BLACK, box_red2=BLACK, box_black1=RED))
        assert s.scorer.breakdown() == {
            "box_red1_pos": 20, "box_black1_pos": 0, "box_red2_pos": 0, "box_black2_pos": 20, "bonus": 0, "time": 0,
        }  # fmt: skip

    def test_success_needs_all_four_in_the_same_tick(self):
        s = Task3Scoring()
        s.update(10.0, _boxes(box_red1=RED, box_red2=RED))
        s.update(20.0, _boxes(box_black1=BLACK, box_black2=BLACK))  # all four awarded, never together
        assert s.scorer.score() == 80 and not s.scorer.success
        s.update(60.0, _boxes(box_red1=RED, box_red2=RED, box_black1=BLACK, box_black2=BLACK))
        assert s.scorer.success and s.scorer.breakdown()["bonus"] == 10
        assert s.scorer.score() == 80 + 10 + 5  # 5 s past the 55 s threshold

    def test_fast_sort_scores_100(self):
        s = Task3Scoring()
        s.update(42.0, _boxes(box_red1=RED, box_red2=RED, box_black1=BLACK, box_black2=BLACK))
        assert s.scorer.score() == 100

    def test_a_box_above_the_bin_does_not_count(self):
        s = Task3Scoring()
        s.update(1.0, _boxes(box_red1=(0.26, 0.01, 0.60)))
        assert s.scorer.score() == 0

    def test_tick_without_all_four_poses_is_skipped(self):
        s = Task3Scoring()
        s.update(1.0, {"box_red1": RED, "box_red2": RED, "box_black1": BLACK, "box_black2": None})
        assert s.scorer.score() == 0
