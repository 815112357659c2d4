#!/usr/bin/env python
"""The GPU benchmark: kuavo train vs lerobot-train for ACT and Diffusion at batch 8 and 32, bf16, one GPU
(see docs/performance.md, "On a GPU"). Unattended, under 8 minutes, no network, one JSON.

Usage (on the CUDA machine, from the repository root):
    .venv/bin/python benchmarks/bench_gpu.py --out outputs/bench-gpu
    # -> outputs/bench-gpu/report-gpu.json (rewritten after every run)
Tiny CPU check of the same steps (CI): .venv/bin/python benchmarks/bench_gpu.py --smoke --out /tmp/x
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script from a checkout: import kuavo_cli from this repository
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/bench-gpu"), help="work folder and JSON")
    parser.add_argument("--smoke", action="store_true", help="tiny CPU run of every step (no GPU needed)")
    parser.add_argument("--policy", action="append", help="act and/or diffusion (default both)")
    parser.add_argument("--batch-size", type=int, action="append", help="default 8 and 32")
    parser.add_argument(
        "--tool", action="append", help="lerobot-train, kuavo, kuavo-cache (default first two)"
    )
    parser.add_argument("--steps", type=int, default=30, help="training steps per run (first window dropped)")
    parser.add_argument("--log-freq", type=int, default=10)
    parser.add_argument("--num-workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--vcodec", default="libsvtav1", choices=["libsvtav1", "h264", "hevc"])
    parser.add_argument("--budget-s", type=float, default=450.0, help="skip runs that would start later")
    parser.add_argument("--json", action="store_true", help="print the report on stdout")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = parse_args(argv)
    from kuavo_cli.bench.gpu import GpuBenchOptions, run_gpu_benchmark
    from kuavo_cli.errors import KuavoError

    opts = GpuBenchOptions(out=args.out, smoke=args.smoke, steps=args.steps, log_freq=args.log_freq,
                           num_workers=args.num_workers, vcodec=args.vcodec, budget_s=args.budget_s)  # fmt: skip
    if args.policy:
        opts.policies = args.policy
    if args.batch_size:
        opts.batch_sizes = args.batch_size
    if args.tool:
        opts.tools = args.tool
    try:
        report = run_gpu_benchmark(opts, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    except KuavoError as err:
        print(f"Error: {err.one_line()}", file=sys.stderr)
        return err.exit_code
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        for row in report["targets"]:
            print(f"{row['target']}: want {row['want']}, got {row['got']}, met {row['met']}")
        print(f"report: {opts.out / 'report-gpu.json'} ({report['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
