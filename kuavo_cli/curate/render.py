"""Terminal output of `kuavo dataset check`: a rich table of flagged episodes and a progress bar."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table


@contextlib.contextmanager
def progress_bar(console: Console, label: str) -> Iterator[Callable[[int, int], None]]:
    progress = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), console=console, transient=True)
    task = None

    def advance(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            progress.start()
            task = progress.add_task(label, total=total)
        progress.update(task, completed=done)

    try:
        yield advance
    finally:
        progress.stop()


def print_check(console: Console, report: dict) -> None:
    flagged = [r for r in report["rows"] if r["flags"]]
    console.print(
        f"[bold]{report['dataset']}[/bold]: {report['episodes']} episodes, {report['frames']} frames; "
        f"{len(flagged)} flagged"
        + ("" if report["cameras_checked"] else " (cameras not checked: --no-video)")
    )
    if flagged:
        table = Table(show_lines=False)
        table.add_column("episode", justify="right")
        table.add_column("frames", justify="right")
        table.add_column("flag")
        table.add_column("why")
        for row in flagged:
            for i, flag in enumerate(row["flags"]):
                first = i == 0
                table.add_row(
                    str(row["episode"]) if first else "",
                    str(row["length"]) if first else "",
                    flag["code"],
                    flag["message"],
                )
        console.print(table)
        episodes = ",".join(str(r["episode"]) for r in flagged)
        console.print(
            f"Delete them into a new dataset: kuavo dataset edit {report['dataset']} --delete {episodes} "
            f"--out {report['dataset'].rstrip('/')}-clean"
        )
    if report.get("plot"):
        console.print(f"plot: {report['plot']}")
