"""`kuavo bench` / benchmarks/bench_pipeline.py: kuavo's data pipeline and training vs lerobot's, in one run.

1. data pipeline samples/s (and CPU ms per sample) of lerobot-train's own dataset + DataLoader (built by
   lerobot's `make_dataset` etc., see kuavo_cli/bench/pipeline.py) vs kuavo, uncached, with the
   decoded-frame cache, and with the cache at the policy's resolution when the policy resizes (one
   subprocess per variant, repeats interleaved, medians kept);
2. training samples/s of `lerobot-train` vs `kuavo train` (kuavo_cli/bench/training.py);
3. peak RSS / PSS (and GPU memory with CUDA) of every subprocess tree.
All as ratios over lerobot. On a synthetic Kuavo dataset at the real resolution unless one is given.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kuavo_cli.bench.memory import TreeMemorySampler
from kuavo_cli.utils.process_priority import normal_scheduling

SMALL_ACT: dict[str, Any] = {
    "type": "act",
    "chunk_size": 100,  # ACT's default chunk: 100 action delta timestamps per sample
    "n_action_steps": 100,
    "dim_model": 256,
    "n_heads": 8,
    "dim_feedforward": 1024,
    "n_encoder_layers": 2,
    "n_decoder_layers": 1,
    "pretrained_backbone_weights": None,  # no download; compute is the same as with ImageNet weights
}
TARGETS = {"pipeline_cache": 3.0, "pipeline_nocache": 2.0, "train": 1.3}


@dataclass
class BenchOptions:
    dataset: Path | None = None  # an existing LeRobot dataset; default: synthetic Kuavo data in work_dir
    work_dir: Path = Path("outputs/bench")
    repo_id: str = "kuavo/bench"
    episodes: int = 5
    length: int = 100
    size: tuple[int, int] = (480, 640)  # (height, width) of the synthetic cameras
    vcodec: str = "libsvtav1"  # codec of the synthetic videos (lerobot's default AV1, or h264 / hevc)
    batch_size: int = 8
    num_workers: int = 2
    batches: int = 30
    warmup: int = 3
    train_steps: int = 30
    log_freq: int = 10
    repeats: int = 1
    policy: dict[str, Any] = field(default_factory=lambda: dict(SMALL_ACT))
    pipeline: bool = True
    train: bool = True
    modes: list[str] | None = None  # pipeline modes; default gpu with CUDA, else cpu and gpu-host
    cache_dir: Path | None = None  # default <work_dir>/frame-cache
    threads: int | None = None  # OMP_NUM_THREADS for the training runs (steadier on a shared machine)


def machine_info() -> dict[str, Any]:
    import lerobot
    import torch
    import torchcodec

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch": torch.__version__,
        "lerobot": lerobot.__version__,
        "torchcodec": torchcodec.__version__,
        "cuda": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def prepare_dataset(opts: BenchOptions, log: Callable[[str], None]) -> Path:
    if opts.dataset is not None:
        return Path(opts.dataset)
    from kuavo_cli.data.synthetic import SyntheticSpec, make_synthetic_dataset

    h, w = opts.size
    codec = "" if opts.vcodec == "libsvtav1" else f"-{opts.vcodec}"
    root = Path(opts.work_dir) / f"dataset-{opts.episodes}x{opts.length}-{w}x{h}{codec}"
    if (root / "meta" / "info.json").exists():
        return root
    log(
        f"generating synthetic Kuavo data: {opts.episodes} episodes x {opts.length} frames, 3 cameras {w}x{h}, "
        f"{opts.vcodec}"
    )
    spec = SyntheticSpec(
        num_episodes=opts.episodes, episode_length=opts.length, image_size=opts.size, vcodec=opts.vcodec
    )
    made = make_synthetic_dataset(root, spec, overwrite=False)
    normal_scheduling()  # the encoder just made this process real-time
    return made


def policy_cache_resize(policy: dict[str, Any]) -> Any:
    """The policy's own resize (a CacheResize) when it has one, else None."""
    from kuavo_cli.config.policy import PolicySection
    from kuavo_cli.data.frame_cache_resize import policy_resize

    return policy_resize(PolicySection.model_validate(policy).to_lerobot(device="cpu"))


def build_cache(root: Path, cache_dir: Path, resize: Any = None) -> dict[str, Any]:
    from kuavo_cli.data.frame_cache_build import ensure_frame_cache_with_bar
    from kuavo_cli.data.metadata import open_metadata

    meta = open_metadata(root, "kuavo/bench")
    start = time.perf_counter()
    result = ensure_frame_cache_with_bar(root, meta, cache_dir, force=True, resize=resize)
    frames_per_camera = result.num_frames / max(len(meta.video_keys), 1)
    return {
        "seconds": round(time.perf_counter() - start, 2),
        "frames": result.num_frames,
        "bytes": result.bytes,
        # disk per 1,000 dataset frames (every camera): the number to scale to a real task
        "bytes_per_1k_frames": round(result.bytes * 1000 / max(frames_per_camera, 1)),
        "resize": resize.key() if resize else None,
        "path": str(result.path),
    }


def _pipeline_once(
    variant: str, mode: str, root: Path, opts: BenchOptions, cache_dir: Path
) -> dict[str, Any]:
    out = Path(opts.work_dir) / f"pipeline-{variant}-{mode}.json"
    out.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "kuavo_cli.bench.pipeline",
        variant,
        str(root),
        "--policy",
        json.dumps(opts.policy),
        "--batch-size",
        str(opts.batch_size),
        "--num-workers",
        str(opts.num_workers),
        "--batches",
        str(opts.batches),
        "--warmup",
        str(opts.warmup),
        "--cache-dir",
        str(cache_dir),
        "--mode",
        mode,
        "--out",
        str(out),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SVT_LOG": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    with TreeMemorySampler(proc.pid, gpu=mode == "gpu") as sampler:
        output, _ = proc.communicate()
    if proc.returncode != 0 or not out.exists():
        return {"variant": variant, "mode": mode, "ok": False, "error_tail": output[-1500:]}
    return {**json.loads(out.read_text()), "ok": True, **sampler.result()}


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in runs if r.get("ok")]
    if not good:
        return runs[-1]
    best = dict(good[0])
    for key in ("samples_per_s", "cpu_ms_per_sample", "main_cpu_ms_per_sample", "peak_rss_mb", "peak_pss_mb"):
        values = [r[key] for r in good if r.get(key) is not None]
        if values:
            best[key] = statistics.median(values)
    best["repeats"] = [round(r["samples_per_s"], 2) for r in good]
    best["repeats_cpu_ms_per_sample"] = [round(r["cpu_ms_per_sample"], 2) for r in good]
    # samples/s one fully used CPU core delivers (load-independent; scales with the cores given to workers)
    best["samples_per_core_s"] = 1000 / best["cpu_ms_per_sample"] if best.get("cpu_ms_per_sample") else None
    return best


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def run_pipeline(
    root: Path, opts: BenchOptions, cache_dir: Path, log: Callable[[str], None], policy_cache: bool = False
) -> dict[str, Any]:
    import torch

    modes = opts.modes or (["gpu"] if torch.cuda.is_available() else ["cpu", "gpu-host"])
    variants = ["lerobot", "kuavo", "kuavo-cache"] + (["kuavo-cache-policy"] if policy_cache else [])
    results: dict[str, Any] = {}
    for mode in modes:
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        for _ in range(opts.repeats):  # interleaved, so a change in machine load hits every variant alike
            for variant in runs:
                log(f"pipeline ({mode} mode): {variant}")
                runs[variant].append(_pipeline_once(variant, mode, root, opts, cache_dir))
        per = {v: _median_of(r) for v, r in runs.items()}
        base = per["lerobot"]
        ratios = {}
        for v in variants[1:]:
            ratios[v] = {
                "samples_per_s": _ratio(per[v].get("samples_per_s"), base.get("samples_per_s")),
                # CPU-cost ratio: lerobot's CPU ms per sample / ours (higher = cheaper), load-independent.
                "cpu_efficiency": _ratio(base.get("cpu_ms_per_sample"), per[v].get("cpu_ms_per_sample")),
                "peak_pss": _ratio(per[v].get("peak_pss_mb"), base.get("peak_pss_mb")),
            }
        results[mode] = {"variants": per, "ratios_vs_lerobot": ratios}
    return results


def run_training_bench(root: Path, opts: BenchOptions, log: Callable[[str], None]) -> dict[str, Any]:
    import torch

    from kuavo_cli.bench.training import run_training

    cuda = torch.cuda.is_available()
    work = Path(opts.work_dir)
    runs = {}
    for variant in ("lerobot-train", "kuavo", "kuavo-cache"):
        log(f"training {variant}: {opts.train_steps} steps, batch {opts.batch_size}")
        runs[variant] = run_training(variant, root, opts, work, cuda)
    base = runs["lerobot-train"]
    ratios = {
        v: {
            "samples_per_s": _ratio(runs[v].get("samples_per_s"), base.get("samples_per_s")),
            "peak_rss": _ratio(runs[v].get("peak_rss_mb"), base.get("peak_rss_mb")),
            "peak_pss": _ratio(runs[v].get("peak_pss_mb"), base.get("peak_pss_mb")),
            "peak_gpu": _ratio(runs[v].get("peak_gpu_mb"), base.get("peak_gpu_mb")),
            "wall": _ratio(base.get("wall_s"), runs[v].get("wall_s")),
            "cpu_efficiency": _ratio(base.get("cpu_s"), runs[v].get("cpu_s")),
        }
        for v in ("kuavo", "kuavo-cache")
    }
    return {"runs": runs, "ratios_vs_lerobot": ratios}


def check_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for mode, res in report.get("pipeline", {}).items():
        pairs = [("kuavo-cache", "pipeline_cache"), ("kuavo", "pipeline_nocache")]
        if "kuavo-cache-policy" in res["ratios_vs_lerobot"]:
            pairs.append(("kuavo-cache-policy", "pipeline_cache"))
        for variant, key in pairs:
            got = res["ratios_vs_lerobot"][variant]["samples_per_s"]
            rows.append({"target": f"pipeline {variant} ({mode})", "want": TARGETS[key], "got": got,
                         "met": got is not None and got >= TARGETS[key]})  # fmt: skip
    train = report.get("train")
    if train:
        for variant in ("kuavo", "kuavo-cache"):
            got = train["ratios_vs_lerobot"][variant]["samples_per_s"]
            rows.append({"target": f"train {variant}", "want": TARGETS["train"], "got": got,
                         "met": got is not None and got >= TARGETS["train"]})  # fmt: skip
        mem = train["ratios_vs_lerobot"]["kuavo"]["peak_pss"]
        rows.append({"target": "train kuavo peak PSS (no cache)", "want": "<= 1.0", "got": mem,
                     "met": mem is not None and mem <= 1.0})  # fmt: skip
    return rows


def run_benchmark(opts: BenchOptions, log: Callable[[str], None] = lambda msg: None) -> dict[str, Any]:
    work = Path(opts.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"machine": machine_info(), "load_average_before": load_average()}
    root = prepare_dataset(opts, log)
    report["scheduling"] = normal_scheduling()
    save = lambda: (work / "report.json").write_text(json.dumps(report, indent=2, default=str))  # noqa: E731
    cache_dir = Path(opts.cache_dir or work / "frame-cache")
    opts.cache_dir = cache_dir
    report["options"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()}
    report["dataset"] = _dataset_info(root)
    log("building the decoded-frame cache")
    report["cache_build"] = build_cache(root, cache_dir)
    resize = policy_cache_resize(opts.policy)
    if resize is not None:
        log(f"building the decoded-frame cache at the policy's resolution ({resize.key()})")
        report["cache_build_policy"] = build_cache(root, cache_dir, resize)
    if opts.pipeline:
        report["pipeline"] = run_pipeline(root, opts, cache_dir, log, policy_cache=resize is not None)
        save()  # a partial report survives an interrupted training part
    if opts.train and opts.policy.get("type", "act") == "act":
        report["train"] = run_training_bench(root, opts, log)
    report["targets"] = check_targets(report)
    report["load_average_after"] = load_average()
    save()
    return report


def _dataset_info(root: Path) -> dict[str, Any]:
    info = json.loads((root / "meta" / "info.json").read_text())
    cams = {k: v["shape"] for k, v in info["features"].items() if v.get("dtype") == "video"}
    codecs = sorted({v.get("info", {}).get("video.codec", "?") for v in info["features"].values()
                     if v.get("dtype") == "video"})  # fmt: skip
    videos = sum(p.stat().st_size for p in (root / "videos").rglob("*.mp4"))
    return {"root": str(root), "episodes": info["total_episodes"], "frames": info["total_frames"],
            "fps": info["fps"], "cameras": cams, "codecs": codecs, "video_bytes": videos,
            "video_bytes_per_1k_frames": round(videos * 1000 / max(info["total_frames"], 1))}  # fmt: skip
