"""`kuavo dataset check|edit|split|merge`: flag bad episodes, then write curated copies (never in place)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kuavo_cli.cli.options import JsonOpt
from kuavo_cli.cli.output import emit, print_json, stderr_console, stdout_console

dataset_app = typer.Typer(
    help="Curate LeRobot datasets: flag bad episodes, keep/delete episodes, split, merge (into new datasets).",
    no_args_is_help=True,
)

DatasetArg = Annotated[Path, typer.Argument(help="Local LeRobot dataset folder (meta/info.json inside).")]
OutOpt = Annotated[Path, typer.Option("--out", help="New dataset folder; must not exist (never in place).")]


def _episodes(text: str | None, flag: str) -> list[int] | None:
    from kuavo_cli.errors import UsageError
    from kuavo_cli.evaluate.sources import parse_episodes

    if text is None:
        return None
    try:
        return parse_episodes(text)
    except UsageError as err:
        raise UsageError(err.message.replace("--episodes", flag), err.hint) from None


@dataset_app.command(
    "check",
    epilog="Example: kuavo dataset check data/task1 --plot task1-quality.png",
)
def check(
    dataset: DatasetArg,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write a PNG of every signal per episode.")
    ] = None,
    no_video: Annotated[
        bool, typer.Option("--no-video", help="Skip the camera checks (no decoding).")
    ] = False,
    min_length: Annotated[int | None, typer.Option(help="Frames; default half the median length.")] = None,
    max_length: Annotated[int | None, typer.Option(help="Frames; default twice the median length.")] = None,
    gripper_closed: Annotated[
        float | None, typer.Option(help="Gripper state counted as closed; default from the dataset.")
    ] = None,
    outlier_z: Annotated[float, typer.Option(help="Robust z-score that flags a motion outlier.")] = 5.0,
    json_out: JsonOpt = False,
) -> None:
    """Flag episodes by quality: too short/long, gripper never closes, black or frozen camera, joint-limit
    hits, motion outliers. Prints a table (or --json); exit 0 whether or not episodes are flagged."""
    from kuavo_cli.curate import api
    from kuavo_cli.curate.render import print_check, progress_bar

    thresholds = api.QualityThresholds(
        min_length=min_length, max_length=max_length, gripper_closed=gripper_closed, outlier_z=outlier_z
    )
    with progress_bar(stderr_console(), "decode videos") as advance:
        report = api.check(dataset, thresholds, cameras=not no_video, progress=advance, plot=plot)
    emit(report, json_out, lambda report, console: print_check(console, report))


@dataset_app.command(
    "edit",
    epilog="Example: kuavo dataset edit data/task1 --delete 1,3-4 --out data/task1-clean",
)
def edit(
    dataset: DatasetArg,
    out: OutOpt,
    keep: Annotated[str | None, typer.Option("--keep", help="Keep only these episodes: 0,3,5-7.")] = None,
    delete: Annotated[str | None, typer.Option("--delete", help="Delete these episodes: 0,3,5-7.")] = None,
    delete_flagged: Annotated[
        bool, typer.Option("--delete-flagged", help="Delete what `kuavo dataset check` flags (defaults).")
    ] = False,
    task: Annotated[str | None, typer.Option("--task", help="Set this task text on every episode.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Keep or delete episodes (re-indexed from 0) into a new dataset, with lerobot's delete_episodes."""
    from kuavo_cli.curate.api import edit as edit_episodes

    result = edit_episodes(
        dataset, out, keep=_episodes(keep, "--keep"), delete=_episodes(delete, "--delete"),
        delete_flagged=delete_flagged, task=task,
    )  # fmt: skip
    if json_out:
        print_json(result)
        return
    stdout_console().print(
        f"Wrote {result['path']}: {result['episodes']} episodes, {result['frames']} frames "
        f"(deleted {len(result['deleted'])}: {result['deleted']})"
    )


@dataset_app.command(
    "split",
    epilog="Example: kuavo dataset split data/task1 --split train=0.9 --split val=0.1 --out data/task1-split",
)
def split(
    dataset: DatasetArg,
    out: Annotated[Path, typer.Option("--out", help="New folder; one dataset per split inside it.")],
    splits: Annotated[
        list[str],
        typer.Option("--split", help="NAME=FRACTION (in episode order) or NAME=EPISODES (0,3,5-7)."),
    ],
    json_out: JsonOpt = False,
) -> None:
    """Split into several new datasets (OUT/NAME), with lerobot's split_dataset."""
    from kuavo_cli.curate.api import split_dataset
    from kuavo_cli.errors import UsageError

    parsed: dict[str, list[int] | float] = {}
    for item in splits:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise UsageError(
                f"--split {item!r}: expected NAME=FRACTION or NAME=EPISODES", "e.g. --split val=0.1"
            )
        try:
            parsed[name] = float(value) if "." in value else _episodes(value, f"--split {name}")
        except ValueError:
            raise UsageError(f"--split {item!r}: {value!r} is not a fraction") from None
    result = split_dataset(dataset, out, parsed)
    if json_out:
        print_json(result)
        return
    for name, info in result["splits"].items():
        stdout_console().print(
            f"{name}: {info['path']} ({info['episodes']} episodes, {info['frames']} frames)"
        )


@dataset_app.command(
    "merge",
    epilog="Example: kuavo dataset merge data/task1 data/task2 data/task3 --out data/tasks123",
)
def merge(
    datasets: Annotated[
        list[Path], typer.Argument(help="Two or more local datasets (same fps and features).")
    ],
    out: OutOpt,
    repo_id: Annotated[str | None, typer.Option(help="repo_id recorded in the new dataset.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Concatenate datasets into a new one with lerobot's merge_datasets; each episode keeps its task."""
    from kuavo_cli.curate.api import merge_datasets

    result = merge_datasets(datasets, out, repo_id)
    if json_out:
        print_json(result)
        return
    stdout_console().print(
        f"Wrote {result['path']}: {result['episodes']} episodes, {result['frames']} frames, "
        f"tasks: {'; '.join(result['tasks'])}"
    )
