"""What `kuavo convert` prints: progress on stderr, summary tables, the --profile table, hub and merge results."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from kuavo_cli.hub.sizes import human_bytes


@contextmanager
def bag_progress(console):
    """A progress bar over bags; yields the callback `convert_bags` calls after each bag."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("Converting bags", total=None)

        def on_bag(result, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)
            if result.status == "skipped":
                progress.console.print(f"skipped {Path(result.path).name}: {result.reason}")

        yield on_bag


@contextmanager
def hub_progress(console):
    """One line per event (fetched / converted / skipped / merged) on stderr, and a bar over bags."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("Fetching + converting bags", total=None)
        done = 0

        def on_event(kind: str, item, result) -> None:
            nonlocal done
            if kind == "merged":
                progress.console.print(
                    f"wrote {result.out} ({len(result.converted)} episodes)", highlight=False
                )
                return
            if kind in ("converted", "skipped", "failed", "reused"):
                done += 1
                progress.update(task, completed=done)
            if kind == "skipped":
                progress.console.print(f"skipped {item.path}: {result.reason}", highlight=False)
            elif kind == "failed":
                progress.console.print(f"download failed: {item.path}", highlight=False)
            elif kind in ("fetched", "converted"):
                progress.console.print(f"{kind} {item.path}", highlight=False)

        yield on_event


def print_summary(summary, console) -> None:
    from rich.table import Table

    table = Table(title=None, show_edge=False)
    for col in ("bag", "result", "frames", "detail"):
        table.add_column(col)
    for r in summary.results:
        name = Path(r.path).name
        if r.status == "converted":
            detail = r.provenance.get("gripper_variant", "") + (" (resumed)" if r.reused else "")
            table.add_row(name, "[green]converted[/]", str(r.frames), detail)
        else:
            table.add_row(name, "[red]skipped[/]", "-", r.reason)
    console.print(table)
    t = summary.throughput()
    if summary.written:
        console.print(
            f"Wrote {len(summary.converted)} episodes ({summary.frames} frames) to {summary.out} "
            f"in {summary.seconds:.1f} s with {summary.workers} worker(s); {len(summary.skipped)} bag(s) skipped."
        )
        if t["frames_per_s_total"]:
            console.print(
                f"Throughput: {t['frames_per_s_total']} frames/s in all, {t['frames_per_s_per_worker']} "
                f"frames/s per worker; peak memory per worker {t['peak_rss_mb_per_worker']} MB."
            )
    if summary.profile:
        print_profile(summary.profile, summary.frames, console)


def print_profile(profile: dict, frames: int, console) -> None:
    from rich.table import Table

    table = Table(title=f"Where the time went (CPU seconds, {frames} frames)", show_edge=False)
    for col, justify in (("stage", "left"), ("CPU s", "right"), ("share", "right"), ("ms/frame", "right")):
        table.add_column(col, justify=justify)
    for row in profile["stages"]:
        per_frame = f"{row['cpu_s'] / frames * 1000:.1f}" if frames else "-"
        table.add_row(row["what"], f"{row['cpu_s']:.2f}", f"{row['share'] * 100:.0f}%", per_frame)
    console.print(table)
    console.print(
        f"Worker CPU {profile['cpu_s']:.1f} s in {profile['worker_wall_s']:.1f} s of conversion "
        "(CPU above wall time means stages overlapped on several cores).",
        highlight=False,
    )


def print_merge(summary, console) -> None:
    for item in summary.to_dict()["inputs"]:
        console.print(
            f"{item['dataset']}: {item['episodes']} episodes, {item['frames']} frames", highlight=False
        )
    console.print(
        f"Merged {len(summary.inputs)} datasets into {summary.out}: {sum(summary.episodes)} episodes, "
        f"{sum(summary.frames)} frames, in {summary.seconds:.1f} s.",
        highlight=False,
    )


def print_hub(summary, console) -> None:
    from rich.table import Table

    table = Table(show_edge=False)
    for col in ("dataset", "episodes", "frames", "skipped", "reused", "result"):
        table.add_column(col)
    for name, task in sorted(summary.tasks.items()):
        reused = sum(1 for r in task.converted if r.reused)
        state = "[green]written[/]" if task.written else f"[red]not written[/] (staged in {task.staging})"
        table.add_row(
            name, str(len(task.converted)), str(task.frames), str(len(task.skipped)), str(reused), state
        )
    for name in summary.up_to_date:
        table.add_row(name, "-", "-", "-", "-", "up to date (nothing fetched)")
    console.print(table)
    for task in summary.tasks.values():
        for r in task.skipped:
            console.print(f"skipped {r.path}: {r.reason}", highlight=False, markup=False)
    console.print(
        f"{summary.repo_id} @ {summary.commit[:10]}: fetched {summary.fetched} bags "
        f"({human_bytes(summary.bytes_fetched)}), reused {summary.reused_downloads} already downloaded; "
        f"raw bags on disk peaked at {human_bytes(summary.raw_peak_bytes)} "
        f"(cap {human_bytes(summary.max_disk)}); {summary.seconds:.1f} s.",
        highlight=False,
        markup=False,
    )
    for task in summary.tasks.values():
        if task.profile:
            print_profile(task.profile, task.frames, console)
