"""Run every check in a fixed order; a check that crashes becomes an error line, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from kuavo_cli.doctor import accounts, gpu, resources, software
from kuavo_cli.doctor.base import Check, error, hf_home, short_error


def default_num_workers() -> int:
    from kuavo_cli.config.models import TrainConfig

    return int(TrainConfig.model_fields["num_workers"].default)


def default_paths() -> list[Path]:
    return [Path.cwd(), hf_home()]


def _guard(name: str, fn: Callable[[], Check | list[Check]]) -> list[Check]:
    try:
        result = fn()
    except Exception as err:  # doctor must report, not crash, in the environments it is meant for
        return [
            error(
                name,
                f"the check itself failed: {type(err).__name__}: {short_error(err)}",
                "kuavo --debug doctor",
            )
        ]
    return result if isinstance(result, list) else [result]


def run_checks(paths: list[Path] | None = None, num_workers: int | None = None) -> list[Check]:
    checks: list[Check] = []
    checks += _guard("python", software.check_python)
    checks += _guard("packages", software.check_packages)
    loaded, problem = software.probe_torchcodec()
    checks += _guard("ffmpeg", lambda: software.check_ffmpeg(loaded))
    checks += _guard("video decoding", lambda: software.check_torchcodec(loaded, problem))
    inv = gpu.gpu_inventory()
    checks += _guard("gpus", lambda: gpu.check_gpus(inv))
    checks += _guard("nccl", lambda: gpu.check_nccl(inv))
    checks += _guard("accelerate config", lambda: gpu.check_accelerate_config(inv))
    checks += _guard("hub login", accounts.check_hub_token)
    checks += _guard("hub endpoint", accounts.check_hub_endpoint)
    checks += _guard("wandb", accounts.check_wandb)
    seen: set[Path] = set()
    for path in paths or default_paths():
        key = Path(path).expanduser().absolute()
        if key not in seen:
            seen.add(key)
            checks += _guard("disk", functools.partial(resources.check_disk, Path(path)))
    workers = default_num_workers() if num_workers is None else num_workers
    checks += _guard("cpu", lambda: resources.check_cpu(workers, max(inv.count, 1)))
    return checks


def summary(checks: list[Check]) -> dict[str, int]:
    return {s: sum(c.status == s for c in checks) for s in ("ok", "warning", "error")}
