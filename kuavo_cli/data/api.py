"""`kuavo cache` and `kuavo demo-data` as a library: the frame cache of a dataset (planned, or built) and
a synthetic dataset with the exact Kuavo schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kuavo_cli.data.synthetic import SyntheticSpec
from kuavo_cli.errors import UsageError

__all__ = ["SyntheticSpec", "build_frame_cache", "plan_frame_cache", "write_synthetic_dataset"]

RESOLUTIONS = ("native", "policy")


def plan_frame_cache(
    dataset: Path, policy: str | None = None, cache_dir: Path | None = None, max_bytes: int | None = None
) -> dict:
    """Every way to feed the training loop (videos, native cache, policy-size cache) with the disk each
    needs in `cache_dir` and whether it fits; writes nothing. `policy`: a type (pi05, ...) or a train
    config."""
    from kuavo_cli.data import frame_cache_plan as plans
    from kuavo_cli.data.integrity import check_meta_files

    check_meta_files(dataset)  # a clear error for a folder that is not a dataset, before anything else
    return plans.plan_cache(dataset, plans.policy_from_spec(policy), cache_dir, max_bytes)


def build_frame_cache(
    dataset: Path,
    cache_dir: Path | None = None,
    policy: str | None = None,
    resolution: str = "native",
    max_bytes: int | None = None,
    force: bool = False,
    console: Any = None,
) -> dict:
    """Decode every camera frame once into a memory-mapped uint8 cache (resolution "policy": resized as
    `policy` resizes); refuses, before writing, a cache larger than `max_bytes` or the free disk."""
    from kuavo_cli.data import frame_cache_plan as plans
    from kuavo_cli.data.frame_cache_build import cache_dataset
    from kuavo_cli.data.integrity import check_meta_files

    if resolution not in RESOLUTIONS:
        raise UsageError(f"--resolution {resolution!r}: use native or policy")
    check_meta_files(dataset)
    resize = plans.resize_for(resolution, plans.policy_from_spec(policy))
    return cache_dataset(dataset, cache_dir, force=force, console=console, resize=resize, max_bytes=max_bytes)


def write_synthetic_dataset(
    out: Path,
    spec: SyntheticSpec,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """A small LeRobot v3.0 dataset in Kuavo's schema (10 fps, 3 video cameras); same spec, same dataset."""
    from kuavo_cli.data.synthetic import episode_length, make_synthetic_dataset

    spec.check()
    make_synthetic_dataset(out, spec, overwrite=force, progress=progress)
    frames = sum(episode_length(spec, e) for e in range(spec.num_episodes))
    return {"root": str(out), "repo_id": spec.repo_id, "episodes": spec.num_episodes, "frames": frames}
