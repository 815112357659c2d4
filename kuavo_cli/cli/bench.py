"""`kuavo bench`: kuavo's data pipeline and training vs lerobot's own, on the same data, as ratios."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kuavo_cli.cli.options import JsonOpt

EXAMPLE = (
    "Example: kuavo bench --episodes 2 --length 12 --size 64x48 --batch-size 2 --num-workers 0 --batches 2 "
    "--mode cpu --no-train --out outputs/bench-smoke  (a smoke run; docs/performance.md has the real one)"
)


def _policy(text: str | None) -> dict | None:
    import json

    from kuavo_cli.errors import UsageError

    if text is None:
        return None
    try:
        section = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(
            f"--policy is not JSON: {err}", 'e.g. --policy \'{"type": "act", "dim_model": 64}\''
        ) from None
    if not isinstance(section, dict):
        raise UsageError("--policy must be a JSON object of a policy section", 'e.g. {"type": "pi05"}')
    return {"type": "act", **section}


def bench(
    dataset: Annotated[
        Path | None,
        typer.Option(help="Benchmark this LeRobot dataset folder instead of synthetic Kuavo data."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Work folder: data, caches, runs, report.json.")] = Path(
        "outputs/bench"
    ),
    episodes: Annotated[int, typer.Option(min=2, help="Synthetic episodes.")] = 5,
    length: Annotated[int, typer.Option(min=4, help="Frames per synthetic episode.")] = 100,
    size: Annotated[str, typer.Option(help="Synthetic camera WIDTHxHEIGHT (Kuavo: 640x480).")] = "640x480",
    vcodec: Annotated[
        str, typer.Option(help="Synthetic video codec: libsvtav1 (lerobot's default), h264 or hevc.")
    ] = "libsvtav1",
    batch_size: Annotated[int, typer.Option(min=1, help="Batch size for every variant.")] = 8,
    num_workers: Annotated[int, typer.Option(min=0, help="DataLoader workers for every variant.")] = 2,
    batches: Annotated[int, typer.Option(min=1, help="Timed batches per pipeline variant.")] = 30,
    warmup: Annotated[int, typer.Option(min=1, help="Untimed batches first (worker start-up).")] = 3,
    steps: Annotated[int, typer.Option(min=2, help="Training steps per tool.")] = 30,
    log_freq: Annotated[
        int, typer.Option(min=1, help="Training log window (the first one is dropped).")
    ] = 10,
    repeats: Annotated[
        int, typer.Option(min=1, help="Pipeline repeats (interleaved; the median is kept).")
    ] = 1,
    mode: Annotated[
        list[str] | None,
        typer.Option(help="Pipeline mode: cpu, gpu, gpu-host (repeatable; default by device)."),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(
            help="Policy section as JSON (default: a small ACT with ACT's 100-action chunk). A policy that "
            "resizes (pi05, smolvla, diffusion with resize_shape) adds the policy-resolution cache; "
            "the training part runs for ACT only."
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1, help="Torch/OpenMP threads for both training runs (steadier on a shared machine)."
        ),
    ] = None,
    pipeline: Annotated[
        bool, typer.Option("--pipeline/--no-pipeline", help="Run the data pipeline part.")
    ] = True,
    train: Annotated[bool, typer.Option("--train/--no-train", help="Run the training part.")] = True,
    json_out: JsonOpt = False,
) -> None:
    """Measure kuavo vs lerobot: data pipeline samples/s, training samples/s, peak memory (as ratios)."""
    from kuavo_cli.bench.api import BenchOptions, run_benchmark
    from kuavo_cli.bench.report import render_report
    from kuavo_cli.cli.output import print_json, stderr_console, stdout_console
    from kuavo_cli.errors import UsageError
    from kuavo_cli.utils.image_size import parse_image_size

    if vcodec not in ("libsvtav1", "h264", "hevc"):
        raise UsageError(f"--vcodec {vcodec!r}: use libsvtav1, h264 or hevc")
    for m in mode or []:
        if m not in ("cpu", "gpu", "gpu-host"):
            raise UsageError(f"--mode {m!r}: use cpu, gpu or gpu-host")
    policy_section = _policy(policy)
    if dataset is not None:
        from kuavo_cli.data.integrity import check_meta_files

        check_meta_files(dataset, "--dataset")  # before any work: the meta/ files are there and readable
    opts = BenchOptions(
        dataset=dataset,
        work_dir=out,
        episodes=episodes,
        length=length,
        size=parse_image_size(size),
        vcodec=vcodec,
        batch_size=batch_size,
        num_workers=num_workers,
        batches=batches,
        warmup=warmup,
        train_steps=steps,
        log_freq=log_freq,
        repeats=repeats,
        modes=mode or None,
        pipeline=pipeline,
        train=train,
        threads=threads,
    )
    if policy_section is not None:
        opts.policy = policy_section
    log = stderr_console()
    report = run_benchmark(opts, log=lambda msg: log.print(f"[dim]{msg}[/dim]"))
    if json_out:
        print_json(report)
    else:
        render_report(report, stdout_console())


def register(app: typer.Typer) -> None:
    app.command("bench", epilog=EXAMPLE)(bench)
