"""`kuavo eval CKPT [CKPT ...]`: offline scores on held-out demonstrations, or closed-loop with `--sim`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kuavo_cli.cli.options import JsonOpt
from kuavo_cli.cli.output import print_json, stderr_console, stdout_console
from kuavo_cli.errors import UsageError

EXAMPLE = (
    "Example: kuavo eval outputs/train/my_run outputs/train/other_run\n\n"
    "Closed loop: kuavo eval builtin:expert builtin:hold --sim standin --episodes 2 --latency 0"
)


def eval_checkpoints(
    checkpoints: Annotated[
        list[str],
        typer.Argument(
            help="Run folder (uses best, else last), checkpoints/<step> folder or pretrained_model folder; "
            "several are ranked against each other. With --sim also builtin:expert, builtin:hold, or "
            "tcp://HOST:PORT (a policy behind kuavo serve).",
            show_default=False,
        ),
    ],
    dataset: Annotated[
        str | None,
        typer.Option(help="Dataset folder or repo id (default: the one the checkpoint was trained on)."),
    ] = None,
    episodes: Annotated[
        str | None,
        typer.Option(
            help="Episodes to replay, e.g. 0,3,5-7 (default: the run's held-out split). "
            "With --sim: how many seeded episodes to run (default 10)."
        ),
    ] = None,
    sim: Annotated[
        str | None,
        typer.Option(
            help="Closed-loop eval in simulation: standin (built in), or task1, task2, task3 from your "
            "checkout of the official simulator (--assets)."
        ),
    ] = None,
    assets: Annotated[
        Path | None,
        typer.Option(help="--sim task1..3: your kuavo-ros-opensource checkout (default: $KUAVO_SIM_ASSETS)."),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="--sim: episodes run in parallel over this many processes.")
    ] = 1,
    video: Annotated[
        bool, typer.Option("--video", help="--sim: one MP4 per episode, the 3 cameras tiled.")
    ] = False,
    latency: Annotated[
        str,
        typer.Option(
            help="--sim: 'measured' advances the sim by each call's inference time (as the official "
            "wall-clock loop), or fixed milliseconds (0 = instantaneous policy; deterministic)."
        ),
    ] = "measured",
    jpeg: Annotated[
        int | None, typer.Option(help="--sim: JPEG round trip of camera frames at this quality (1-100).")
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="cpu or cuda (default: cuda when available, else cpu).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Report folder (default: <run>/eval/<step>, or ./outputs/eval/<name>; "
            "--sim: ./outputs/eval/sim-<scene>)."
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Seed for sampling policies such as Diffusion; --sim: the first episode seed.")
    ] = 0,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the PNG plots.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Replay held-out episodes through each checkpoint (error, latency, memory), or with --sim score them
    closed-loop on a task (success rate with 95% interval, mean score, ranking)."""
    if sim is not None:
        _eval_sim(checkpoints, sim, episodes, seed, assets, workers, video, latency, jpeg, device, out,
                  no_plots, json_out)  # fmt: skip
        return
    from kuavo_cli.evaluate.api import EvalOptions, evaluate_many, print_results, result_document

    options = EvalOptions(dataset=dataset, episodes=episodes, device=device, seed=seed, plots=not no_plots)
    result = evaluate_many(checkpoints, options, out=out, console=stderr_console())
    if json_out:
        err = stderr_console()
        for report in result["reports"]:
            for warning in report["warnings"]:
                err.print(f"[yellow]warning:[/yellow] {report['checkpoint']['label']}: {warning}")
        print_json(result_document(result))
    else:
        print_results(stdout_console(), result)


def _eval_sim(checkpoints, sim, episodes, seed, assets, workers, video, latency, jpeg, device, out,
              no_plots, json_out) -> None:  # fmt: skip
    from kuavo_cli.sim.api import evaluate_sim
    from kuavo_cli.sim.report import print_summary

    try:
        count = int(episodes) if episodes is not None else 10
    except ValueError:
        raise UsageError(
            f"--episodes {episodes!r}: with --sim it is a number of episodes", "e.g. --episodes 20"
        ) from None
    report = evaluate_sim(
        checkpoints, scene=sim, episodes=count, seed=seed, assets=assets, workers=workers, video=video,
        latency=latency, jpeg_quality=jpeg, device=device, out=out, plots_enabled=not no_plots,
        console=stderr_console(),
    )  # fmt: skip
    if json_out:
        print_json(report)
    else:
        print_summary(stdout_console(), report)


def register(app: typer.Typer) -> None:
    app.command("eval", epilog=EXAMPLE)(eval_checkpoints)
