"""Run many seeded episodes of one agent, in this process or over W spawned worker processes.

An agent source is a checkpoint path, `tcp://host:port` (a policy behind `kuavo serve`), or
`builtin:expert` / `builtin:hold` (the scripted expert and a robot that holds still: the reference points
of a score). Workers build their own scene and load their
own policy once, then take seeds from a shared pool; results come back in seed order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kuavo_cli.errors import UsageError
from kuavo_cli.sim.runner import EpisodeOptions, EpisodeRecord, make_scene, run_episode

BUILTINS = ("builtin:expert", "builtin:hold")


@dataclass(frozen=True)
class EpisodeJob:
    source: str  # checkpoint path or builtin:*
    scene: str
    assets: str | None
    device: str
    options: EpisodeOptions
    video_dir: str | None = None


def make_agent(source: str, scene: Any, device: str) -> Any:
    from kuavo_cli.sim.agents import ExpertAgent, HoldStillAgent, PolicyAgent, ServedAgent

    if source == "builtin:expert":
        return ExpertAgent(scene.name)
    if source == "builtin:hold":
        return HoldStillAgent()
    if source.startswith("tcp://"):
        return ServedAgent(source, task=scene.task.instruction)
    if source.startswith("builtin:"):
        raise UsageError(
            f"{source!r} is not a built-in agent", f"use one of {', '.join(BUILTINS)} or a checkpoint"
        )
    return PolicyAgent.load(source, device=device, task=scene.task.instruction)


_cache: dict[tuple, Any] = {}  # per process: (scene, assets) -> Scene, (source, device, scene) -> agent


def _scene_and_agent(job: EpisodeJob) -> tuple[Any, Any]:
    key = (job.scene, job.assets)
    if key not in _cache:
        _cache[key] = make_scene(job.scene, Path(job.assets) if job.assets else None)
    scene = _cache[key]
    akey = (job.source, job.device, job.scene, job.assets)
    if akey not in _cache:
        _cache[akey] = make_agent(job.source, scene, job.device)
    return scene, _cache[akey]


def run_one(job: EpisodeJob, seed: int) -> dict[str, Any]:
    scene, agent = _scene_and_agent(job)
    options = job.options
    if job.video_dir:
        options = EpisodeOptions(
            **{**vars(options), "video_path": Path(job.video_dir) / f"seed_{seed:04d}.mp4"}
        )
    record: EpisodeRecord = run_episode(scene, agent, seed, options)
    out = record.as_dict()
    out["traceback"] = record.traceback
    return out


def _worker_init(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_many(
    job: EpisodeJob,
    seeds: Sequence[int],
    workers: int = 1,
    on_done: Callable[[dict], None] | None = None,
    preloaded: tuple[Any, Any] | None = None,
) -> list[dict[str, Any]]:
    """Every seed's episode record (dicts, in seed order); a failing episode never stops the others."""
    if preloaded is not None:  # the caller already built the scene and loaded the agent (feature check)
        _cache[(job.scene, job.assets)] = preloaded[0]
        _cache[(job.source, job.device, job.scene, job.assets)] = preloaded[1]
    results: dict[int, dict] = {}
    if workers <= 1 or len(seeds) <= 1:
        for seed in seeds:
            results[seed] = run_one(job, seed)
            if on_done:
                on_done(results[seed])
    else:
        import multiprocessing

        threads = max(1, (os.cpu_count() or 1) // workers)
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init, initargs=(threads,),
        ) as pool:  # fmt: skip
            futures = {pool.submit(run_one, job, seed): seed for seed in seeds}
            for future in as_completed(futures):
                seed = futures[future]
                try:
                    results[seed] = future.result()
                except Exception as err:  # a worker died (or failed to load): that episode failed
                    results[seed] = _failed(seed, err)
                if on_done:
                    on_done(results[seed])
    return [results[s] for s in seeds]


def _failed(seed: int, err: BaseException) -> dict[str, Any]:
    message = getattr(err, "message", None) or str(err) or type(err).__name__
    return {
        "seed": seed, "success": False, "score": 0.0, "breakdown": {}, "steps": 0, "sim_seconds": 0.0,
        "wall_seconds": 0.0, "inference_ms_mean": 0.0, "inference_ms_max": 0.0, "first_frame_sha": "",
        "error": f"{type(err).__name__}: {message}".splitlines()[0], "video": None, "traceback": None,
    }  # fmt: skip
