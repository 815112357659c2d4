"""Training throughput of `kuavo train` vs `lerobot-train`: the same ACT config, steps, batch and workers, each
run as a subprocess whose process tree is sampled for memory.

Throughput is the steady state, start-up excluded: both tools log timings per window of `log_freq` steps;
the first window (worker start, first batches, lazy init) is dropped and the rest pooled. kuavo logs the
wall time of each window (everything in the loop); lerobot-train logs per-step `updt_s` + `data_s` averages
(the loop minus its own logging), so the comparison slightly favours lerobot-train. Start-up is reported as
wall time minus steady-state time for the steps run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from kuavo_cli.bench.memory import TreeMemorySampler
from kuavo_cli.utils.yaml_text import yaml_value

LEROBOT_WINDOW = re.compile(r"step:(\S+) .*?updt_s:([\d.]+) data_s:([\d.]+)")
LEROBOT_GPU_MEM = re.compile(r"mem_gb:([\d.]+)")


def lerobot_command(root: Path, policy: dict[str, Any], opts: Any, out_dir: Path, cuda: bool) -> list[str]:
    exe = Path(sys.executable).with_name("lerobot-train")
    return [
        str(exe),
        f"--dataset.repo_id={opts.repo_id}",
        f"--dataset.root={root}",
        *(f"--policy.{k}={yaml_value(v)}" for k, v in policy.items() if k != "device"),
        "--policy.push_to_hub=false",
        f"--policy.device={'cuda' if cuda else 'cpu'}",
        f"--steps={opts.train_steps}",
        f"--batch_size={opts.batch_size}",
        f"--num_workers={opts.num_workers}",
        f"--log_freq={opts.log_freq}",
        f"--save_freq={opts.train_steps}",
        f"--output_dir={out_dir}",
        "--seed=1000",
        "--wandb.enable=false",
    ]


def kuavo_config(
    root: Path, policy: dict[str, Any], opts: Any, out_dir: Path, cuda: bool, cache: bool
) -> dict:
    return {
        "dataset": {
            "repo_id": opts.repo_id,
            "root": str(root),
            "cache": cache,
            "cache_dir": str(opts.cache_dir) if opts.cache_dir else None,
        },
        "policy": {**policy, "device": "cuda" if cuda else "cpu"},
        "steps": opts.train_steps,
        "batch_size": opts.batch_size,
        "num_workers": opts.num_workers,
        "log_freq": opts.log_freq,
        "eval_freq": opts.train_steps,  # validation runs outside the timed windows (step 0 and the end)
        "num_eval_batches": 1,
        "save_freq": opts.train_steps,
        "seed": 1000,
        "cpu": not cuda,
        "mixed_precision": "bf16" if cuda else "no",
        "output_dir": str(out_dir),
    }


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(cmd: list[str], env: dict[str, str], log: Path, gpu: bool) -> tuple[int, float, dict, str]:
    start, cpu0 = time.perf_counter(), _children_cpu()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        with TreeMemorySampler(proc.pid, gpu=gpu) as sampler:
            code = proc.wait()
    # CPU seconds of the whole run (main process and every reaped worker): load-independent, start-up included.
    memory = {**sampler.result(), "cpu_s": round(_children_cpu() - cpu0, 1)}
    return code, time.perf_counter() - start, memory, log.read_text(errors="replace")


def _pool(windows: list[tuple[int, float, float]], batch: int) -> float | None:
    """windows: (steps in window, seconds, seconds waiting for data); drop the first, pool the rest ->
    samples/s."""
    rest = windows[1:] or windows
    seconds = sum(w[1] for w in rest)
    return sum(w[0] for w in rest) * batch / seconds if seconds > 0 else None


def _data_wait(windows: list[tuple[int, float, float]]) -> float | None:
    """Fraction of the steady-state loop time spent waiting for the next batch."""
    rest = windows[1:] or windows
    seconds = sum(w[1] for w in rest)
    return round(sum(w[2] for w in rest) / seconds, 4) if seconds > 0 else None


def lerobot_windows(log_text: str, log_freq: int) -> list[tuple[int, float, float]]:
    """lerobot-train's per-window averages: data_s (next batch, uint8 -> float, preprocessor) + updt_s."""
    windows = []
    for match in LEROBOT_WINDOW.finditer(log_text):
        update, data = float(match.group(2)), float(match.group(3))
        windows.append((log_freq, log_freq * (update + data), log_freq * data))
    return windows


def kuavo_windows(metrics: Path, batch: int) -> list[tuple[int, float, float]]:
    windows, previous = [], 0
    for line in metrics.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("split") != "train":
            continue
        n = rec["step"] - previous
        previous = rec["step"]
        seconds = n * batch / rec["samples_per_s"]
        windows.append((n, seconds, seconds * rec.get("data_wait_fraction", 0.0)))
    return windows


def _summary(name: str, code: int, wall: float, memory: dict, windows: list, opts: Any, log: Path, text: str):
    steady = _pool(windows, opts.batch_size)
    result: dict[str, Any] = {
        "tool": name,
        "ok": code == 0 and steady is not None,
        "exit_code": code,
        "wall_s": round(wall, 2),
        "samples_per_s": steady,
        "step_s": round(opts.batch_size / steady, 4) if steady else None,
        "data_wait_fraction": _data_wait(windows),
        "windows": len(windows),
        "startup_s": round(wall - opts.train_steps * opts.batch_size / steady, 2) if steady else None,
        "log": str(log),
        **memory,
    }
    if not result["ok"]:
        result["error_tail"] = text[-1500:]
    return result


def run_training(variant: str, root: Path, opts: Any, work: Path, cuda: bool) -> dict[str, Any]:
    """variant: lerobot-train | kuavo | kuavo-cache."""
    out_dir = work / f"train-{variant}"
    if out_dir.exists():
        import shutil

        shutil.rmtree(out_dir)
    work.mkdir(parents=True, exist_ok=True)
    log = work / f"train-{variant}.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SVT_LOG": "1", "NO_COLOR": "1"}
    if opts.threads:  # torch/OpenMP threads of both tools' main process (workers use 1 anyway)
        env["OMP_NUM_THREADS"] = str(opts.threads)
    if variant == "lerobot-train":
        if cuda:
            env["ACCELERATE_MIXED_PRECISION"] = "bf16"  # ACT has no dtype field: accelerate's env default
        cmd = lerobot_command(root, opts.policy, opts, out_dir, cuda)
        code, wall, memory, text = _run(cmd, env, log, cuda)
        windows = lerobot_windows(text, opts.log_freq)
        mem = [float(m) for m in LEROBOT_GPU_MEM.findall(text)]
        if mem:  # lerobot-train's own torch.cuda.max_memory_allocated, GB
            memory["lerobot_max_allocated_gb"] = max(mem)
    else:
        cfg = kuavo_config(root, opts.policy, opts, out_dir, cuda, cache=variant == "kuavo-cache")
        cfg_path = work / f"train-{variant}.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        cmd = [sys.executable, "-m", "kuavo_cli", "train", str(cfg_path), "--json"]
        code, wall, memory, text = _run(cmd, env, log, cuda)
        metrics = out_dir / "metrics.jsonl"
        windows = kuavo_windows(metrics, opts.batch_size) if metrics.exists() else []
    return _summary(variant, code, wall, memory, windows, opts, log, text)
