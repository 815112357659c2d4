"""Data pipeline throughput: samples/s delivered to the training loop, one variant per call.

Variants (same dataset, same policy delta timestamps, same batch size and number of workers):
- `lerobot`: exactly what `lerobot-train` (lerobot 0.6.1, `lerobot/scripts/lerobot_train.py: train`) builds:
  the dataset from lerobot's own `lerobot.datasets.factory.make_dataset(TrainPipelineConfig)` (uint8 frames,
  `return_uint8=True`), an `EpisodeAwareSampler` with its arguments, `torch.utils.data.DataLoader` with
  `pin_memory=device.type == "cuda"`, `drop_last=False` and lerobot's own
  `_dataloader_worker_kwargs(cfg)` (prefetch 4, persistent workers, "spawn" workers), wrapped by
  `accelerator.prepare` (which moves each batch to the device), iterated with lerobot's `cycle`, and the
  camera frames made float with lerobot-train's own `batch[key].to(dtype=torch.float32) / 255.0` on the
  device;
- `kuavo`: `kuavo train`'s own `make_dataset` + `make_train_loader` (fast reader, uint8 transport);
- `kuavo-cache`: the same with `dataset.cache: true` (frames from the decoded-frame cache);
- `kuavo-cache-policy`: the same with `dataset.cache_resolution: policy` (frames cached at the size the
  policy resizes them to; only for policies that resize, see kuavo_cli/data/frame_cache_resize.py).
The policy preprocessor (normalisation) is left out of every variant: it is the same code for all.

Modes: `cpu` (CPU training: float32 frames in the main process), `gpu` (CUDA: every tensor on the GPU,
frames float32 there), `gpu-host` (no GPU here: the host-side work a GPU trainer would see: every variant
ships uint8 frames and leaves the float conversion to the GPU, so it is skipped; the pinned copy and the
host-to-device transfer are left out for every variant).

Run as `python -m kuavo_cli.bench.pipeline VARIANT ROOT ... --out result.json` so each variant gets a
fresh process (its own memory and decoder state); the orchestrator (kuavo_cli/bench/api.py) samples it.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

import torch

VARIANTS = ("lerobot", "kuavo", "kuavo-cache", "kuavo-cache-policy")
MODES = ("cpu", "gpu", "gpu-host")
REPO_ID = "kuavo/bench"


def train_config(
    root: Path, policy: dict[str, Any], batch_size: int, num_workers: int, cache_dir: Path | None
):
    from kuavo_cli.config.models import TrainConfig

    dataset = {"repo_id": REPO_ID, "root": str(root), "cache_dir": str(cache_dir) if cache_dir else None}
    return TrainConfig.model_validate(
        {
            "dataset": dataset,
            "policy": policy,
            "batch_size": batch_size,
            "num_workers": num_workers,
            "seed": 1000,
        }
    )


def _lerobot_loader(cfg: Any, policy_cfg: Any, device: torch.device):
    """lerobot-train's dataset and DataLoader, built by lerobot's own functions (see the module doc)."""
    from accelerate import Accelerator
    from lerobot.configs.default import DatasetConfig
    from lerobot.configs.train import TrainPipelineConfig
    from lerobot.datasets import EpisodeAwareSampler
    from lerobot.datasets.factory import make_dataset
    from lerobot.scripts.lerobot_train import _dataloader_worker_kwargs

    lr_cfg = TrainPipelineConfig(
        dataset=DatasetConfig(repo_id=REPO_ID, root=str(cfg.dataset.root)),
        policy=policy_cfg,
        batch_size=cfg.batch_size,
        num_workers=cfg.num_workers,
        seed=cfg.seed,
    )
    dataset = make_dataset(lr_cfg)
    sampler = EpisodeAwareSampler(
        dataset.meta.episodes["dataset_from_index"],
        dataset.meta.episodes["dataset_to_index"],
        episode_indices_to_use=dataset.episodes,
        drop_n_last_frames=getattr(policy_cfg, "drop_n_last_frames", 0),
        shuffle=True,
        seed=lr_cfg.seed if lr_cfg.seed is not None else 0,
        absolute_to_relative_idx=dataset.absolute_to_relative_idx,
    )
    loader = torch.utils.data.DataLoader(
        dataset,
        num_workers=lr_cfg.num_workers,
        batch_size=lr_cfg.batch_size,
        shuffle=False,
        sampler=sampler,
        pin_memory=device.type == "cuda",
        drop_last=False,
        collate_fn=None,  # no language columns in Kuavo data
        **_dataloader_worker_kwargs(lr_cfg),
    )
    accelerator = Accelerator(cpu=device.type != "cuda")
    return dataset, accelerator.prepare(loader)


def _lerobot_deliver(batch: dict[str, Any], camera_keys: list[str], convert: bool) -> dict[str, Any]:
    """lerobot-train's loop body before `preprocessor(batch)` (the batch is on the device already)."""
    if convert:
        for cam_key in camera_keys:
            if cam_key in batch and batch[cam_key].dtype == torch.uint8:
                batch[cam_key] = batch[cam_key].to(dtype=torch.float32) / 255.0
    return batch


def _kuavo_loader(cfg: Any, meta: Any, policy_cfg: Any, pin: bool):
    from kuavo_cli.train import data

    dataset = data.make_dataset(cfg, meta, policy_cfg, list(range(meta.total_episodes)), train=True)
    with warnings.catch_warnings():  # gpu-host: pin_memory=True without a GPU only selects the GPU collate
        warnings.simplefilter("ignore")
        loader, _ = data.make_train_loader(cfg, dataset, policy_cfg, 0, 1, False, pin)

    def endless():  # the trainer's own `_batches`
        while True:
            yield from loader

    return dataset, endless()


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


def _kuavo_deliver(batch: dict[str, Any], device: torch.device, convert: bool) -> dict[str, Any]:
    """The trainer's `images_to_float(raw, device)`; in gpu-host mode only the host part of it."""
    from kuavo_cli.data.batch import images_to_float

    if convert:
        return images_to_float(batch, device)
    return batch


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
    cfg.dataset.cache = variant.startswith("kuavo-cache")
    if variant == "kuavo-cache-policy":
        cfg.dataset.cache_resolution = "policy"
    device = torch.device("cuda" if mode == "gpu" else "cpu")
    convert = mode != "gpu-host"
    start = time.perf_counter()
    with quiet_logs():
        meta = data.load_metadata(cfg)
        policy_cfg = lerobot_bridge.make_policy_config(cfg, device=device.type)
        if variant == "lerobot":
            from lerobot.utils.utils import cycle

            dataset, loader = _lerobot_loader(cfg, policy_cfg, device)
            stream = cycle(loader)  # lerobot-train's `dl_iter = cycle(dataloader)`
            cameras = list(dataset.meta.camera_keys)
            deliver = lambda b: _lerobot_deliver(b, cameras, convert)  # noqa: E731
        else:
            dataset, stream = _kuavo_loader(cfg, meta, policy_cfg, pin=mode != "cpu")
            deliver = lambda b: _kuavo_deliver(b, device, convert)  # noqa: E731

    first = deliver(next(stream))
    first_batch_s = time.perf_counter() - start
    for _ in range(max(warmup - 1, 0)):
        deliver(next(stream))
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0, cpu0 = time.perf_counter(), tree_cpu_seconds()
    samples = 0
    for _ in range(batches):
        batch = deliver(next(stream))
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
    parser = argparse.ArgumentParser(description="One data pipeline variant; see kuavo_cli/bench/api.py.")
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
