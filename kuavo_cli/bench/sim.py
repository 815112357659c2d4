"""Speed of the simulation core: physics steps/s, rendered frames/s, closed-loop episodes per hour.

`python -m kuavo_cli.bench.sim [CKPT]` prints JSON (numbers for docs/eval.md). With a checkpoint, it also
runs closed-loop episodes of that policy (latency measured) and reports episodes per hour.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

import kuavo_cli.sim  # noqa: F401  (presets MUJOCO_GL)


def physics_steps_per_s(scene, seconds: float = 4.0) -> float:
    from kuavo_cli.sim.control import SimController

    sim = SimController(scene)
    sim.reset(np.random.default_rng(0))
    start = time.perf_counter()
    sim.advance(seconds)
    return sim.physics_steps / (time.perf_counter() - start)


def frames_per_s(scene, size: tuple[int, int], n: int = 30) -> float:
    from kuavo_cli.sim.control import SimController
    from kuavo_cli.sim.render import CameraRenderer

    sim = SimController(scene)
    sim.reset(np.random.default_rng(0))
    renderer = CameraRenderer(scene.model, *size)
    cameras = list(scene.cameras.values())
    renderer.render(sim.data, cameras[0])
    start = time.perf_counter()
    for i in range(n):
        renderer.render(sim.data, cameras[i % len(cameras)])
    renderer.close()
    return n / (time.perf_counter() - start)


def main(argv: list[str]) -> dict:
    from kuavo_cli.sim.render import configure_gl
    from kuavo_cli.sim.runner import make_scene

    backend = configure_gl()
    scene = make_scene("standin")
    out: dict = {
        "render_backend": backend,
        "physics_dt": float(scene.model.opt.timestep),
        "physics_steps_per_s": round(physics_steps_per_s(scene)),
        "frames_per_s": {
            f"{w}x{h}": round(frames_per_s(scene, (h, w)), 1) for h, w in ((480, 640), (32, 32), (48, 64))
        },
    }
    if argv:
        from kuavo_cli.sim.api import evaluate_sim

        start = time.perf_counter()
        report = evaluate_sim([argv[0]], "standin", episodes=int(argv[1]) if len(argv) > 1 else 3,
                              out=Path("/tmp/kuavo-sim-bench"), plots_enabled=False)  # fmt: skip
        wall = time.perf_counter() - start
        result = report["results"][0]
        out["policy"] = {
            "checkpoint": argv[0], "cameras": result["cameras"], "episodes": len(result["episodes"]),
            "mean_sim_seconds": result["summary"]["mean_sim_seconds"],
            "inference_ms_mean": result["summary"]["inference_ms_mean"],
            "episode_wall_s": [e["wall_seconds"] for e in result["episodes"]],
            "episodes_per_hour": round(3600 * len(result["episodes"]) / sum(e["wall_seconds"] for e in result["episodes"]), 1),
            "total_wall_s_with_loading": round(wall, 1),
        }  # fmt: skip
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=2))
