"""`kuavo demo-data OUT` (synthetic Kuavo dataset) and `kuavo demo` (data -> train -> eval -> export)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kuavo_cli.cli.options import ForceOpt, JsonOpt
from kuavo_cli.cli.output import emit, stderr_console
from kuavo_cli.errors import UsageError
from kuavo_cli.utils.image_size import parse_image_size


def _defects(items: list[str]) -> tuple[tuple[int, str], ...]:

    out = []
    for item in items:
        episode, sep, kind = item.partition("=")
        if not sep or not episode.strip().isdigit():
            raise UsageError(f"--defect {item!r}: expected EPISODE=KIND", "e.g. --defect 3=black_camera")
        out.append((int(episode), kind.strip()))
    return tuple(out)


def demo_data(
    out: Annotated[Path, typer.Argument(help="Folder to write the LeRobot dataset to.", show_default=False)],
    episodes: Annotated[int, typer.Option(help="Number of episodes.")] = 6,
    length: Annotated[int, typer.Option(help="Frames per episode (10 fps).")] = 60,
    size: Annotated[str, typer.Option(help="Camera size WIDTHxHEIGHT (the real data is 640x480).")] = "64x48",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same dataset).")] = 0,
    vcodec: Annotated[
        str, typer.Option(help="Video codec: libsvtav1 (as the real data) or h264.")
    ] = "libsvtav1",
    repo_id: Annotated[str, typer.Option(help="repo_id recorded in the dataset.")] = "kuavo/synthetic",
    task: Annotated[str | None, typer.Option(help="Task text of every episode.")] = None,
    defect: Annotated[
        list[str] | None,
        typer.Option(
            "--defect",
            help="EPISODE=KIND makes an episode deliberately bad, to try `kuavo dataset check` (repeatable): "
            "black_camera, frozen_camera, gripper_open, short, joint_limit, jump.",
        ),
    ] = None,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Write a small synthetic dataset with the exact Kuavo schema (LeRobot v3.0, 10 fps, 3 video cameras)."""
    from rich.progress import Progress

    from kuavo_cli.data.api import SyntheticSpec, write_synthetic_dataset

    spec = SyntheticSpec(
        num_episodes=episodes, episode_length=length, image_size=parse_image_size(size), seed=seed, repo_id=repo_id,
        vcodec=vcodec, defects=_defects(defect or []), **({"task": task} if task else {}),
    )  # fmt: skip
    with Progress(console=stderr_console(), transient=True) as progress:
        bar = progress.add_task("Writing episodes", total=episodes)
        result = write_synthetic_dataset(
            out, spec, force, progress=lambda done, _t: progress.update(bar, completed=done)
        )
    emit(result, json_out, _print_written)


def _print_written(result: dict, console) -> None:
    text = f"Wrote {result['episodes']} episodes ({result['frames']} frames) to {result['root']}"
    console.print(text, markup=False, highlight=False)


def demo(
    out: Annotated[Path, typer.Option(help="Working folder for data, run, eval and export.")] = Path(
        "outputs/demo"
    ),
    steps: Annotated[int, typer.Option(help="Training steps (CPU).")] = 300,
    force: ForceOpt = False,
) -> None:
    """Run the whole workflow offline: record expert demos in the stand-in sim, train ACT on CPU, evaluate
    (offline and closed loop, before vs after training), export."""
    from kuavo_cli.demo import run_demo

    run_demo(out, steps=steps, force=force, console=stderr_console())


def register(app: typer.Typer) -> None:
    app.command("demo-data", epilog="Example: kuavo demo-data data/synthetic --episodes 8 --size 64x48")(
        demo_data
    )
    app.command("demo", epilog="Example: kuavo demo --out outputs/demo  (about 4 minutes on 2 CPU cores)")(
        demo
    )
