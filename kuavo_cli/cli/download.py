"""`kuavo download`: list, plan or fetch a part of a hub repo (rosbags or a LeRobot dataset)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kuavo_cli.cli.options import JsonOpt
from kuavo_cli.errors import UsageError
from kuavo_cli.hub.settings import DEFAULT_REPO

EXAMPLE = "Example: kuavo download --task 1 --episodes 0-9 --local-dir data/raw   (add --dry-run to preview)"


def download(
    repo_id: Annotated[
        str, typer.Argument(help="Hub repo id (owner/name). Default: the Kuavo ICRA challenge data.")
    ] = DEFAULT_REPO,
    task: Annotated[
        list[str] | None,
        typer.Option(
            "--task", "-t", help="Task folder: 1, 2, 3 (sim tasks) or a folder name part (repeatable)."
        ),
    ] = None,
    source: Annotated[str | None, typer.Option("--source", help="sim or real (rosbag repos).")] = None,
    episodes: Annotated[
        str | None,
        typer.Option(
            "--episodes",
            "-e",
            help="Episodes to fetch, e.g. 0-99 or 0-9,20: the N-th bags of each task folder, "
            "or LeRobot episode indices (only their data/video files are fetched).",
        ),
    ] = None,
    include: Annotated[
        list[str] | None, typer.Option("--include", help="Only paths matching this glob (repeatable).")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Skip paths matching this glob (repeatable).")
    ] = None,
    revision: Annotated[
        str | None, typer.Option("--revision", help="Branch, tag or commit (default: main).")
    ] = None,
    local_dir: Annotated[
        Path | None,
        typer.Option("--local-dir", help="Put the files here (default: the Hugging Face cache)."),
    ] = None,
    repo_type: Annotated[str, typer.Option("--repo-type", help="dataset or model.")] = "dataset",
    list_only: Annotated[
        bool,
        typer.Option("--list", help="Show the repo's folders with file counts and sizes; fetch nothing."),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Show what would be fetched (and what is already here); fetch nothing."
        ),
    ] = False,
    max_workers: Annotated[int, typer.Option("--max-workers", help="Parallel file downloads.")] = 8,
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Check sha256 / git hashes of fetched files.")
    ] = True,
    json_out: JsonOpt = False,
) -> None:
    """Download the challenge rosbags or a LeRobot dataset: only the tasks / episodes you ask for."""
    from kuavo_cli.cli.output import emit, stderr_console
    from kuavo_cli.hub.api import make_request, run_download
    from kuavo_cli.hub.report import render

    if list_only and dry_run:
        raise UsageError("--list and --dry-run cannot be combined", "pick one")
    request = make_request(
        repo_id, tasks=task, source=source, episodes=episodes, include=include, exclude=exclude,
        revision=revision, local_dir=local_dir, repo_type=repo_type,
    )  # fmt: skip
    mode = "list" if list_only else "dry-run" if dry_run else "download"
    out = run_download(request, mode, stderr_console(), max_workers=max_workers, verify=verify)
    emit(out, json_out, render)


def register(app: typer.Typer) -> None:
    app.command("download", epilog=EXAMPLE)(download)
