"""`kuavo inspect` as a library: `inspect_target(target, InspectOptions(...))` -> one report (schema.json)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kuavo_cli.errors import UsageError


@dataclass
class InspectOptions:
    episode: int | None = None
    frames: bool = False
    out_dir: Path | None = None
    chunk_size: int | None = None
    revision: str | None = None
    plots: bool = True  # write the run's loss PNG

    def __post_init__(self) -> None:
        if self.episode is not None and self.episode < 0:
            raise UsageError(f"--episode must be >= 0 (got {self.episode})")
        if self.chunk_size is not None and self.chunk_size < 1:
            raise UsageError(f"--chunk-size must be >= 1 (got {self.chunk_size})")


def default_out_dir(name: str) -> Path:
    return Path("kuavo-inspect") / name


def inspect_target(target: str, options: InspectOptions, progress=None) -> dict:
    from kuavo_cli.inspect.locate import kind_of, resolve_target

    path, repo_id = resolve_target(target, options.revision)
    kind = kind_of(path)
    name = (repo_id or path.name).replace("/", "_") or "root"
    out_dir = options.out_dir or default_out_dir(name)
    if kind == "dataset":
        from kuavo_cli.inspect.dataset import episode_details, inspect_dataset, render_episode_pngs

        report, context = inspect_dataset(path, repo_id, options.chunk_size)
        episode = options.episode if options.episode is not None else (0 if options.frames else None)
        if episode is not None:
            report["episode"] = episode_details(context, episode)
            if options.frames:
                report["outputs"].update(render_episode_pngs(context, episode, out_dir, name))
        return report
    if options.episode is not None or options.frames:
        raise UsageError("--episode / --frames apply to LeRobot datasets", f"{path} is a {kind} folder")
    if kind == "rosbags":
        from kuavo_cli.inspect.rosbag import inspect_bags

        return inspect_bags(path, progress)
    from kuavo_cli.inspect.run import inspect_run, render_run_png

    report, context = inspect_run(path)
    if options.plots:
        report["outputs"].update(render_run_png(report, context, out_dir, name))
    return report
