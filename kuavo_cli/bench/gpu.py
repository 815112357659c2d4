"""`benchmarks/bench_gpu.py`: the one command to run on a CUDA machine, unattended, in under 8 minutes.

For ACT and Diffusion (lerobot's default configs, no pretrained weights: nothing is downloaded) at batch 8
and 32, bf16, one GPU, it trains with `lerobot-train` and with `kuavo train` on the same synthetic Kuavo
dataset (3 cameras at 640x480, generated here) and records per run: steady-state step time and samples/s,
the fraction of the loop spent waiting for data, peak GPU memory (nvidia-smi, every process of the run;
plus lerobot-train's own max_memory_allocated), start-up and CPU time (kuavo_cli/bench/training.py does
each run). It also times torchcodec's video decoding on the CPU and, where torchcodec was built with CUDA,
on the GPU's decoder (NVDEC). Everything goes to one JSON file, written atomically after every run.

`--smoke` runs the same steps tiny (2 short episodes at 64x48, tiny policies, 4 steps, CPU) so CI checks
the whole path on a machine without a GPU.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kuavo_cli.errors import UsageError
from kuavo_cli.utils.atomic import write_text

GPU_POLICIES: dict[str, dict[str, Any]] = {
    "act": {"type": "act", "pretrained_backbone_weights": None},
    "diffusion": {"type": "diffusion", "pretrained_backbone_weights": None},
}
SMOKE_POLICIES: dict[str, dict[str, Any]] = {
    "act": {"type": "act", "chunk_size": 4, "n_action_steps": 4, "dim_model": 32, "n_heads": 2,
            "dim_feedforward": 64, "n_encoder_layers": 1, "n_decoder_layers": 1, "n_vae_encoder_layers": 1,
            "latent_dim": 8, "pretrained_backbone_weights": None},
    "diffusion": {"type": "diffusion", "n_obs_steps": 2, "horizon": 8, "n_action_steps": 4,
                  "drop_n_last_frames": 3, "down_dims": [16, 32], "diffusion_step_embed_dim": 16,
                  "num_train_timesteps": 10, "pretrained_backbone_weights": None},
}  # fmt: skip
TOOLS = ("lerobot-train", "kuavo", "kuavo-cache")
TARGETS = {"data_wait_act_b32": 0.05, "train_speedup": 1.3}


@dataclass
class GpuBenchOptions:
    out: Path = Path("outputs/bench-gpu")
    smoke: bool = False
    policies: list[str] = field(default_factory=lambda: ["act", "diffusion"])
    batch_sizes: list[int] = field(default_factory=lambda: [8, 32])
    tools: list[str] = field(default_factory=lambda: ["lerobot-train", "kuavo"])
    steps: int = 30
    log_freq: int = 10
    num_workers: int = 8
    episodes: int = 6
    length: int = 100
    size: tuple[int, int] = (480, 640)
    vcodec: str = "libsvtav1"
    budget_s: float = 450.0  # runs that would start after this are recorded as skipped (8-minute limit)
    decode_frames: int = 48

    def apply_smoke(self) -> None:
        self.batch_sizes, self.steps, self.log_freq, self.num_workers = [2], 4, 2, 0
        self.episodes, self.length, self.size, self.decode_frames = 2, 12, (48, 64), 8


def check_options(opts: GpuBenchOptions, cuda: bool) -> None:
    if not opts.smoke and not cuda:
        raise UsageError(
            "benchmarks/bench_gpu.py measures a CUDA GPU and none is visible here",
            "run it on the GPU machine, or add --smoke for the tiny CPU check of the same steps",
        )
    unknown = [p for p in opts.policies if p not in GPU_POLICIES]
    if unknown:
        raise UsageError(f"--policy {unknown[0]!r}: one of {', '.join(GPU_POLICIES)}")
    bad_tools = [t for t in opts.tools if t not in TOOLS]
    if bad_tools:
        raise UsageError(f"--tool {bad_tools[0]!r}: one of {', '.join(TOOLS)}")
    if "lerobot-train" not in opts.tools:
        raise UsageError("--tool lerobot-train is needed: every figure is a ratio over it")
    if any(b < 1 for b in opts.batch_sizes) or opts.steps < 2 * opts.log_freq:
        raise UsageError(
            "batch sizes must be >= 1 and --steps >= 2 x --log-freq (the first window is dropped)"
        )


def decode_bench(root: Path, frames: int, cuda: bool) -> dict[str, Any]:
    """Random-access decode rate of one camera video with torchcodec, on the CPU and on the GPU decoder."""
    import torch
    import torchcodec
    from torchcodec.decoders import VideoDecoder

    video = sorted((root / "videos").rglob("*.mp4"))[0]
    out: dict[str, Any] = {"video": str(video.relative_to(root)), "torchcodec": torchcodec.__version__}
    for device in ("cpu", "cuda"):
        if device == "cuda" and not cuda:
            out[device] = {"skipped": "no CUDA device"}
            continue
        try:
            decoder = VideoDecoder(str(video), seek_mode="approximate", device=device)
            n = decoder.metadata.num_frames
            picks = random.Random(0).sample(range(n), min(frames, n))
            decoder.get_frames_at(picks[:2])  # open the codec, first keyframes
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for index in picks:
                decoder.get_frames_at([index])
            if device == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            out[device] = {"frames": len(picks), "frames_per_s": round(len(picks) / seconds, 1)}
        except Exception as err:  # e.g. a CPU-only torchcodec build, or no NVDEC for this codec
            out[device] = {"unavailable": (str(err).splitlines() or [repr(err)])[0][:300]}
    return out


def _row(tool: str, run: dict[str, Any]) -> dict[str, Any]:
    keep = ("ok", "samples_per_s", "step_s", "data_wait_fraction", "peak_gpu_mb", "lerobot_max_allocated_gb",
            "peak_rss_mb", "peak_pss_mb", "wall_s", "startup_s", "cpu_s", "windows", "log", "error_tail")  # fmt: skip
    return {"tool": tool, **{k: run[k] for k in keep if k in run}}


def _ratios(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    base = runs.get("lerobot-train", {})
    out = {}
    for tool, run in runs.items():
        if tool == "lerobot-train" or not (run.get("ok") and base.get("ok")):
            continue
        out[tool] = {
            "samples_per_s": round(run["samples_per_s"] / base["samples_per_s"], 3),
            "peak_gpu": round(run["peak_gpu_mb"] / base["peak_gpu_mb"], 3)
            if base.get("peak_gpu_mb")
            else None,
        }
    return out


def check_targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for res in results:
        kuavo = res["runs"].get("kuavo", {})
        ratio = res.get("ratios_vs_lerobot", {}).get("kuavo", {}).get("samples_per_s")
        rows.append({"target": f"{res['policy']} b{res['batch_size']} kuavo samples/s x lerobot-train",
                     "want": TARGETS["train_speedup"], "got": ratio,
                     "met": ratio is not None and ratio >= TARGETS["train_speedup"]})  # fmt: skip
        if res["policy"] == "act" and res["batch_size"] == 32:
            wait = kuavo.get("data_wait_fraction")
            rows.append({"target": "act b32 kuavo data wait", "want": f"< {TARGETS['data_wait_act_b32']}",
                         "got": wait, "met": wait is not None and wait < TARGETS["data_wait_act_b32"]})  # fmt: skip
    return rows


def _save(path: Path, report: dict[str, Any]) -> None:
    write_text(path, json.dumps(report, indent=2, default=str))  # never a half-written report


def run_gpu_benchmark(opts: GpuBenchOptions, log: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    import torch

    from kuavo_cli.bench.api import BenchOptions, build_cache, load_average, machine_info, prepare_dataset
    from kuavo_cli.bench.training import run_training

    cuda = torch.cuda.is_available()
    if opts.smoke:
        opts.apply_smoke()
    check_options(opts, cuda)
    started = time.perf_counter()
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    report_path = out / "report-gpu.json"
    policies = SMOKE_POLICIES if opts.smoke else GPU_POLICIES
    report: dict[str, Any] = {
        "machine": machine_info(),
        "load_average_before": load_average(),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()},
        "device": "cuda" if cuda else "cpu",
        "results": [],
    }
    base = BenchOptions(work_dir=out, episodes=opts.episodes, length=opts.length, size=opts.size,
                        vcodec=opts.vcodec, num_workers=opts.num_workers, train_steps=opts.steps,
                        log_freq=opts.log_freq, cache_dir=out / "frame-cache")  # fmt: skip
    root = prepare_dataset(base, log)
    report["dataset"] = {"root": str(root), "frames": opts.episodes * opts.length, "size": list(opts.size)}
    log("decoding: torchcodec on the CPU and the GPU")
    report["decode"] = decode_bench(root, opts.decode_frames, cuda)
    if "kuavo-cache" in opts.tools:
        report["cache_build"] = build_cache(root, base.cache_dir)
    _save(report_path, report)
    for name in opts.policies:
        for batch in opts.batch_sizes:
            entry: dict[str, Any] = {"policy": name, "batch_size": batch, "runs": {}}
            report["results"].append(entry)
            for tool in opts.tools:
                if time.perf_counter() - started > opts.budget_s:
                    entry["runs"][tool] = {"tool": tool, "ok": False, "skipped": "time budget spent"}
                    continue
                log(f"{name} batch {batch}: {tool} ({opts.steps} steps, {'bf16' if cuda else 'fp32 on CPU'})")
                run_opts = BenchOptions(
                    **{**asdict(base), "batch_size": batch, "policy": dict(policies[name])}
                )
                entry["runs"][tool] = _row(
                    tool, run_training(tool, root, run_opts, out / f"{name}-b{batch}", cuda)
                )
                entry["ratios_vs_lerobot"] = _ratios(entry["runs"])
                _save(report_path, report)
    report["targets"] = check_targets(report["results"])
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["load_average_after"] = load_average()
    _save(report_path, report)
    return report
