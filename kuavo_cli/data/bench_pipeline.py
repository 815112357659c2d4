"""Data pipeline throughput: samples/s delivered to the training loop, one variant per call.

Variants (same dataset, same ACT delta timestamps, same batch size, workers and sampler):
- `lerobot`: plain `LeRobotDataset` + `DataLoader`, the way `lerobot-train` builds them;
- `kuavo`: `kuavo train`'s own `make_dataset` + `make_train_loader` (fast reader, uint8 transport);
- `kuavo-cache`: the same with `dataset.cache: true` (frames from the decoded-frame cache).

Modes: `cpu` (CPU training: float32 batches in the main process), `gpu` (CUDA: every tensor on the GPU,
frames float32 there), `gpu-host` (no GPU here: the host-side work a GPU trainer would see; kuavo's uint8
frames stay uint8 since their conversion happens on the GPU, lerobot's batch is float32 as always; the
pinned copy and the host-to-device transfer, 4x smaller for kuavo, are left out, which favours lerobot).

Run as `python -m kuavo_cli.data.bench_pipeline VARIANT ROOT ... --out result.json` so each variant gets a
fresh process (its own memory and decoder state); the orchestrator (kuavo_cli/data/bench.py) samples it.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

import torch

VARIANTS = ("lerobot", "kuavo", "kuavo-cache")
MODES = ("cpu", "gpu", "gpu-host")
REPO_ID = "kuavo/bench"


def train_config(
    root: Path, policy: dict[str, Any], batch_size: int, num_workers: int, cache_dir: Path | None
):
    from kuavo_cli.config.models import DistributedTrainConfig

    dataset = {"repo_id": REPO_ID, "root": str(root), "cache_dir": str(cache_dir) if cache_dir else None}
    return DistributedTrainConfig.model_validate(
        {
            "dataset": dataset,
            "policy": policy,
            "batch_size": batch_size,
            "num_workers": num_workers,
            "seed": 1000,
        }
    )


def _lerobot_loader(cfg: Any, meta: Any, policy_cfg: Any, pin: bool):
    from lerobot.datasets import LeRobotDataset
    from lerobot.datasets.factory import resolve_delta_timestamps
    from lerobot.datasets.sampler import EpisodeAwareSampler

    delta = resolve_delta_timestamps(policy_cfg, meta)
    dataset = LeRobotDataset(REPO_ID, root=cfg.dataset.root, delta_timestamps=delta)
    sampler = EpisodeAwareSampler(
        dataset.meta.episodes["dataset_from_index"],
        dataset.meta.episodes["dataset_to_index"],
        episode_indices_to_use=dataset.episodes,
        drop_n_last_frames=getattr(policy_cfg, "drop_n_last_frames", 0) or 0,
        shuffle=True,
        seed=cfg.seed,
    )
    workers = cfg.num_workers
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=pin,
        drop_last=False,
        persistent_workers=workers > 0,
        prefetch_factor=cfg.prefetch_factor if workers > 0 else None,
    )
    return dataset, loader


def _kuavo_loader(cfg: Any, meta: Any, policy_cfg: Any, pin: bool):
    from kuavo_cli.train import data

    dataset = data.make_dataset(cfg, meta, policy_cfg, list(range(meta.total_episodes)), train=True)
    with warnings.catch_warnings():  # gpu-host: pin_memory=True without a GPU only selects the GPU collate
        warnings.simplefilter("ignore")
        loader, _ = data.make_train_loader(cfg, dataset, policy_cfg, 0, 1, False, pin)
    return dataset, loader


def tree_cpu_seconds() -> tuple[float, float]:
    """user + system CPU seconds of (this process, its live children = the DataLoader workers)."""
    import psutil

    me = psutil.Process()
    totals = [0.0, 0.0]
    for i, proc in enumerate([me, *me.children(recursive=True)]):
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        totals[min(i, 1)] += times.user + times.system
    return totals[0], totals[1]


def _deliver(batch: dict[str, Any], device: torch.device, convert: bool) -> dict[str, Any]:
    from kuavo_cli.data.batch import images_to_float

    if convert:
        batch = images_to_float(batch, device)
    return {
        k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()
    }


def run_variant(
    variant: str,
    root: Path,
    policy: dict[str, Any],
    batch_size: int,
    num_workers: int,
    batches: int,
    warmup: int,
    cache_dir: Path | None = None,
    mode: str | None = None,
) -> dict[str, Any]:
    from kuavo_cli.train import data, lerobot_bridge
    from kuavo_cli.utils.logs import quiet_logs

    mode = mode or ("gpu" if torch.cuda.is_available() else "cpu")
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
    if mode not in MODES or (mode == "gpu" and not torch.cuda.is_available()):
        raise ValueError(f"mode {mode!r} is not possible here; one of {', '.join(MODES)} (gpu needs CUDA)")
    cfg = train_config(root, policy, batch_size, num_workers, cache_dir)
    cfg.dataset.cache = variant == "kuavo-cache"
    device = torch.device("cuda" if mode == "gpu" else "cpu")
    convert = mode != "gpu-host"
    start = time.perf_counter()
    with quiet_logs():
        meta = data.load_metadata(cfg)
        policy_cfg = lerobot_bridge.make_policy_config(cfg, device=device.type)
        if variant == "lerobot":
            dataset, loader = _lerobot_loader(cfg, meta, policy_cfg, pin=mode == "gpu")
        else:
            dataset, loader = _kuavo_loader(cfg, meta, policy_cfg, pin=mode != "cpu")

    def endless():
        while True:
            yield from loader

    stream = endless()
    first = _deliver(next(stream), device, convert)
    first_batch_s = time.perf_counter() - start
    for _ in range(max(warmup - 1, 0)):
        _deliver(next(stream), device, convert)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0, cpu0 = time.perf_counter(), tree_cpu_seconds()
    samples = 0
    for _ in range(batches):
        batch = _deliver(next(stream), device, convert)
        samples += int(batch["index"].shape[0])
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds, cpu1 = time.perf_counter() - t0, tree_cpu_seconds()
    main_cpu, worker_cpu = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    image = next((first[k] for k in meta.camera_keys if k in first), None)
    return {
        "variant": variant,
        "mode": mode,
        "samples_per_s": samples / seconds,
        # Load-independent cost: CPU time of the main process and its workers per delivered sample.
        "cpu_ms_per_sample": 1000 * (main_cpu + worker_cpu) / max(samples, 1),
        "main_cpu_ms_per_sample": 1000 * main_cpu / max(samples, 1),
        "seconds": seconds,
        "samples": samples,
        "first_batch_s": first_batch_s,
        "batch_size": batch_size,
        "num_workers": num_workers,
        "dataset_frames": len(dataset),
        "image_dtype": str(image.dtype) if image is not None else None,
        "image_shape": list(image.shape) if image is not None else None,
        "device": device.type,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One data pipeline variant; see kuavo_cli/data/bench.py.")
    parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("root", type=Path)
    parser.add_argument("--policy", required=True, help="policy section as JSON")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--mode", choices=MODES, default=None)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    result = run_variant(
        args.variant,
        args.root,
        json.loads(args.policy),
        args.batch_size,
        args.num_workers,
        args.batches,
        args.warmup,
        args.cache_dir,
        args.mode,
    )
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
