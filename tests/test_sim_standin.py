"""The simulation core on the stand-in world: expert, hold-still, recording, determinism, failures, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import kuavo_cli.sim  # noqa: F401  (presets MUJOCO_GL before anything imports mujoco)
from kuavo_cli.data.schema import CAMERA_KEYS, STATE_KEY
from kuavo_cli.errors import UsageError
from kuavo_cli.sim.agents import ExpertAgent, HoldStillAgent, PolicyNeeds, policy_needs
from kuavo_cli.sim.episodes import EpisodeJob, run_many
from kuavo_cli.sim.runner import EpisodeOptions, make_scene, parse_latency, run_episode

SMALL = {key: (32, 32) for key in CAMERA_KEYS}


@pytest.fixture(scope="module")
def scene():
    return make_scene("standin")


def test_scene_carries_the_kuavo_names_and_limits(scene):
    import mujoco

    from kuavo_cli.data.schema import JOINT_LIMITS

    m = scene.model
    assert scene.left_arm_joints == [f"zarm_l{i}_joint" for i in range(1, 8)]
    for k, name in enumerate(scene.arm_joints()):
        jid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, name)
        slot = k if k < 7 else k + 1  # skip the left gripper slot of the 16-D layout
        assert np.allclose(m.jnt_range[jid], JOINT_LIMITS[slot], atol=1e-5), name
    assert set(scene.cameras) == {"head_cam_h", "wrist_cam_l", "wrist_cam_r"}
    scene.check()


def test_expert_solves_ten_seeds_and_hold_still_scores_zero(scene):
    job = EpisodeJob("builtin:expert", "standin", None, "cpu", EpisodeOptions(latency_s=0.0))
    expert = run_many(job, list(range(10)), preloaded=(scene, ExpertAgent("standin")))
    assert [e["success"] for e in expert] == [True] * 10, [e["breakdown"] for e in expert]
    assert all(e["score"] >= 80 for e in expert)
    hold = [run_episode(scene, HoldStillAgent(), s, EpisodeOptions(latency_s=0.0)) for s in (0, 1, 2)]
    assert [(h.success, h.score) for h in hold] == [(False, 0.0)] * 3
    assert all(h.steps == scene.task.max_steps and h.sim_seconds == pytest.approx(9.0) for h in hold)


def test_same_seed_same_score_and_first_frames(scene):
    runs = [
        run_episode(scene, ExpertAgent("standin", SMALL), seed, EpisodeOptions(latency_s=0.0))
        for seed in (4, 4, 5)
    ]
    assert runs[0].first_frame_sha == runs[1].first_frame_sha != runs[2].first_frame_sha
    assert (runs[0].score, runs[0].steps, runs[0].breakdown) == (
        runs[1].score,
        runs[1].steps,
        runs[1].breakdown,
    )


def test_observation_matches_the_dataset_layout(scene):
    seen: list[dict] = []
    run_episode(scene, ExpertAgent("standin", SMALL), 0, EpisodeOptions(latency_s=0.0, max_steps=40),
                on_step=lambda obs, action: seen.append({**obs, "action": action}))  # fmt: skip
    first, closed = seen[0], seen[-1]
    assert first[STATE_KEY].shape == (16,) and first[STATE_KEY].dtype == np.float32
    for key in CAMERA_KEYS:
        assert first[key].shape == (32, 32, 3) and first[key].dtype == np.uint8 and first[key].std() > 1
    assert first[STATE_KEY][15] == pytest.approx(0.0, abs=0.02)  # open at the start
    assert 0.3 < closed[STATE_KEY][15] < 1.0  # holding the cube: partly closed, state grip in [0, 1]
    assert closed["action"][15] == 1.0 and closed["action"].shape == (16,)


class RaisingAgent(HoldStillAgent):
    """Raises on its fifth call for seed 1 only."""

    def reset(self, sim, seed):
        super().reset(sim, seed)
        self.seed, self.calls = seed, 0

    def act(self, obs):
        self.calls += 1
        if self.seed == 1 and self.calls == 5:
            raise RuntimeError("policy exploded")
        return super().act(obs)


def test_eval_survives_a_policy_that_raises_mid_episode(scene):
    job = EpisodeJob("test", "standin", None, "cpu", EpisodeOptions(latency_s=0.0, max_steps=20))
    out = run_many(job, [0, 1, 2], preloaded=(scene, RaisingAgent()))
    assert [e["seed"] for e in out] == [0, 1, 2]
    assert (
        out[1]["error"] == "RuntimeError: policy exploded" and out[1]["steps"] == 5 and not out[1]["success"]
    )
    assert out[0]["error"] is None and out[2]["error"] is None and out[2]["steps"] == 20


def test_latency_delays_the_action_and_stretches_sim_time(scene):
    assert parse_latency("measured") is None and parse_latency("40") == pytest.approx(0.04)
    with pytest.raises(UsageError, match="--latency"):
        parse_latency("fast")
    fixed = run_episode(scene, HoldStillAgent(), 0, EpisodeOptions(latency_s=0.25, max_steps=4))
    assert fixed.sim_seconds == pytest.approx(1.0)  # each tick lasts the 0.25 s call, not 0.1 s

    class Slow(HoldStillAgent):
        def act(self, obs):
            time.sleep(0.15)
            return super().act(obs)

    measured = run_episode(scene, Slow(), 0, EpisodeOptions(latency_s=None, max_steps=3))
    assert measured.sim_seconds >= 0.45 and measured.inference_ms_mean >= 150


def test_refuses_a_checkpoint_whose_features_the_sim_lacks():
    from lerobot.configs.types import FeatureType, PolicyFeature

    class Cfg:
        input_features = {
            STATE_KEY: PolicyFeature(FeatureType.STATE, (16,)),
            "observation.images.head_cam_h": PolicyFeature(FeatureType.VISUAL, (3, 24, 32)),
            "observation.depth_h": PolicyFeature(FeatureType.VISUAL, (1, 24, 32)),
        }
        output_features = {"action": PolicyFeature(FeatureType.ACTION, (16,))}

    with pytest.raises(UsageError, match=r"needs feature observation\.depth_h"):
        policy_needs(Cfg(), {}, "ckpt")
    Cfg.input_features.pop("observation.depth_h")
    needs = policy_needs(Cfg(), {}, "ckpt")
    assert needs == PolicyNeeds({"observation.images.head_cam_h": (24, 32)},
                                {STATE_KEY: STATE_KEY, "observation.images.head_cam_h": "observation.images.head_cam_h",
                                 "action": "action"})  # fmt: skip
    Cfg.output_features = {"action": PolicyFeature(FeatureType.ACTION, (14,))}
    with pytest.raises(UsageError, match=r"expects action of shape \(14,\)"):
        policy_needs(Cfg(), {}, "ckpt")


def test_render_backend_and_missing_library_line():
    from kuavo_cli.sim.render import configure_gl, missing_library_message

    backend = configure_gl()
    assert backend in ("egl", "osmesa") and os.environ["MUJOCO_GL"] == backend
    line = missing_library_message(["egl", "osmesa"])
    assert "libosmesa6" in line and "libegl1" in line and "\n" not in line


def test_cli_ranks_expert_over_hold_with_workers_and_video(tmp_path: Path):
    out = tmp_path / "eval"
    cmd = [sys.executable, "-m", "kuavo_cli", "eval", "builtin:hold", "builtin:expert", "--sim", "standin",
           "--episodes", "2", "--latency", "0", "--workers", "2", "--video", "--out", str(out), "--json"]  # fmt: skip
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert [r["label"] for r in report["ranking"]] == ["expert", "hold"]
    expert = report["results"][1]
    assert expert["summary"]["success_rate"] == 1.0 and expert["summary"]["success_ci95"][0] > 0.15
    assert report["render_backend"] in ("egl", "osmesa") and "welded" in report["fidelity_note"]
    assert (out / "report.md").read_text().count("| yes |") == 2 and (out / "scores.png").stat().st_size > 0
    import av

    with av.open(str(out / "videos" / "expert" / "seed_0001.mp4")) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == expert["episodes"][1]["steps"] and frames[0].width == 3 * frames[0].height * 4 // 3


def test_cli_bad_sim_and_episodes_are_usage_errors():
    for args, needle in (
        (["--sim", "task9"], "task9"),
        (["--sim", "standin", "--episodes", "0,1"], "--episodes"),
    ):
        proc = subprocess.run([sys.executable, "-m", "kuavo_cli", "eval", "builtin:hold", *args],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr
