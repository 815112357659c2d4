"""One closed-loop episode: observe -> act -> hold the target -> step physics -> score, at 10 Hz.

Time follows the official loop, which runs in wall-clock time while the policy thinks: with `latency`
"measured" the simulation first advances by the call's measured inference time with the previous target
still held, then the new target is applied for the rest of the 0.1 s tick (a call slower than the tick
pays its whole duration). A number of milliseconds fixes that delay; 0 gives an ideal, instantaneous
policy. The same seed with a fixed latency gives the same score and the same frames.
"""

from __future__ import annotations

import hashlib
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kuavo_cli.data.schema import CAMERA_KEYS, STATE_KEY
from kuavo_cli.errors import UsageError
from kuavo_cli.sim.scene import Scene

SCENES = ("standin", "task1", "task2", "task3")
ASSETS_ENV = "KUAVO_SIM_ASSETS"


def make_scene(name: str, assets: Path | None = None) -> Scene:
    """The stand-in (built in code) or an official task scene from the user's simulator checkout."""
    from kuavo_cli.sim.render import configure_gl

    configure_gl()  # before the first `import mujoco` of this process
    if name == "standin":
        from kuavo_cli.sim.standin import make_standin_scene

        return make_standin_scene()
    if name not in SCENES:
        raise UsageError(f"--sim {name!r} is not a scene", f"use one of {', '.join(SCENES)}")
    try:
        from kuavo_cli.sim.official import load_official_scene
    except ImportError as err:
        raise UsageError(
            f"--sim {name}: the official-scene loader (kuavo_cli.sim.official) is not available: {err}",
            "use --sim standin, or update kuavo",
        ) from err
    if assets is None and os.environ.get(ASSETS_ENV):
        assets = Path(os.environ[ASSETS_ENV])
    return load_official_scene(name, assets)


def parse_latency(text: str | float | None) -> float | None:
    """None for "measured", else seconds."""
    if text is None or str(text).strip().lower() == "measured":
        return None
    try:
        ms = float(text)
    except ValueError:
        raise UsageError(
            f"--latency {text!r} is not 'measured' or milliseconds", "e.g. --latency 0 or 40"
        ) from None
    if ms < 0 or not np.isfinite(ms):
        raise UsageError(f"--latency {text!r} must be >= 0 ms")
    return ms / 1000.0


@dataclass
class EpisodeOptions:
    latency_s: float | None = None  # None: measured
    jpeg_quality: int | None = None  # JPEG round trip of every camera frame, as the robot's topics
    video_path: Path | None = None
    video_size: tuple[int, int] = (96, 128)  # (H, W) per camera tile when the policy needs no camera
    max_steps: int | None = None  # None: the task's own limit


@dataclass
class EpisodeRecord:
    seed: int
    success: bool
    score: float
    breakdown: dict[str, float]
    steps: int
    sim_seconds: float
    wall_seconds: float
    inference_ms_mean: float
    inference_ms_max: float
    first_frame_sha: str = ""  # hash of the first observation's images: same seed, same frames
    error: str | None = None
    video: str | None = None
    traceback: str | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("traceback")
        return out


class Observer:
    """Builds the observation dict: state + the cameras the agent needs, at its sizes."""

    def __init__(self, scene: Scene, cameras: dict[str, tuple[int, int]], jpeg_quality: int | None):
        from kuavo_cli.sim.render import CameraRenderer, configure_gl

        self.scene, self.cameras, self.jpeg = scene, cameras, jpeg_quality
        self.renderers: dict[tuple[int, int], CameraRenderer] = {}
        if cameras:
            configure_gl()
        for size in set(cameras.values()):
            self.renderers[size] = CameraRenderer(scene.model, *size)

    def frame(self, sim: Any, key: str, size: tuple[int, int]) -> np.ndarray:
        from kuavo_cli.sim.render import CameraRenderer, jpeg_round_trip

        if size not in self.renderers:
            self.renderers[size] = CameraRenderer(self.scene.model, *size)
        camera = self.scene.cameras[key.removeprefix("observation.images.")]
        img = self.renderers[size].render(sim.data, camera)
        return jpeg_round_trip(img, self.jpeg) if self.jpeg else img

    def observe(self, sim: Any) -> dict[str, np.ndarray]:
        obs: dict[str, np.ndarray] = {STATE_KEY: sim.state()}
        for key, size in self.cameras.items():
            obs[key] = self.frame(sim, key, size)
        return obs

    def close(self) -> None:
        for r in self.renderers.values():
            r.close()


def tile(obs: dict[str, np.ndarray]) -> np.ndarray:
    """The three cameras side by side (head, left wrist, right wrist), same height."""
    frames = [obs[k] for k in CAMERA_KEYS if k in obs]
    h = min(f.shape[0] for f in frames)
    return np.concatenate([f[:h] for f in frames], axis=1)


def run_episode(
    scene: Scene,
    agent: Any,
    seed: int,
    options: EpisodeOptions | None = None,
    on_step: Callable[[dict, np.ndarray], None] | None = None,
) -> EpisodeRecord:
    """Run one seeded episode; a raising agent ends it as a failure carrying the error."""
    from kuavo_cli.sim.control import SimController

    options = options or EpisodeOptions()
    sim = SimController(scene)
    cameras = dict(agent.needs.cameras)
    if options.video_path is not None:
        for key in CAMERA_KEYS:
            cameras.setdefault(key, next(iter(cameras.values()), options.video_size))
    observer = Observer(scene, cameras, options.jpeg_quality)
    task, dt = scene.task, scene.control_dt
    infer_ms: list[float] = []
    video_frames: list[np.ndarray] = []
    first_sha, error, tb, steps = "", None, None, 0
    start = time.perf_counter()
    try:
        sim.reset(np.random.default_rng(seed))
        agent.reset(sim, seed)
        for steps in range(1, (options.max_steps or task.max_steps) + 1):
            obs = observer.observe(sim)
            if steps == 1:
                first_sha = _frames_sha(obs)
            if options.video_path is not None:
                video_frames.append(tile(obs))
            t0 = time.perf_counter()
            action = agent.act(obs)
            elapsed = time.perf_counter() - t0
            infer_ms.append(elapsed * 1000.0)
            if on_step is not None:
                on_step(obs, np.asarray(action, dtype=np.float32))
            delay = elapsed if options.latency_s is None else options.latency_s
            sim.advance(delay)  # the robot keeps executing the previous target while the policy thinks
            sim.set_action(action)
            sim.advance(max(dt - delay, 0.0))
            task.tick(scene.model, sim.data, sim.time)
            if task.done():
                break
    except Exception as err:  # the policy (or its processors) raised: this episode fails, the eval goes on
        error = f"{type(err).__name__}: {err}".splitlines()[0]
        tb = traceback.format_exc()
    finally:
        observer.close()
    result = task.result()
    video = None
    if options.video_path is not None and video_frames:
        from kuavo_cli.sim.video import write_mp4

        video = str(write_mp4(options.video_path, video_frames, fps=round(1 / dt)))
    return EpisodeRecord(
        seed=seed,
        success=result.success and error is None,
        score=0.0 if error else float(result.score),
        breakdown={k: float(v) for k, v in result.breakdown.items()},
        steps=steps,
        sim_seconds=round(sim.time, 4),
        wall_seconds=round(time.perf_counter() - start, 3),
        inference_ms_mean=round(float(np.mean(infer_ms)), 3) if infer_ms else 0.0,
        inference_ms_max=round(float(np.max(infer_ms)), 3) if infer_ms else 0.0,
        first_frame_sha=first_sha,
        error=error,
        video=video,
        traceback=tb,
    )


def _frames_sha(obs: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for key in sorted(obs):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(obs[key]).tobytes())
    return digest.hexdigest()[:16]
