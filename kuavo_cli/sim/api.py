"""`kuavo eval CKPT [CKPT ...] --sim SCENE` as a library: closed-loop episodes, summaries, ranking, report."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from kuavo_cli.errors import UsageError
from kuavo_cli.sim import report as sim_report
from kuavo_cli.sim.episodes import BUILTINS, EpisodeJob, make_agent, run_many
from kuavo_cli.sim.runner import EpisodeOptions, make_scene, parse_latency

if TYPE_CHECKING:
    from kuavo_cli.sim.official.check import CheckReport


def _label(source: str, taken: list[str]) -> str:
    if source in BUILTINS:
        name = source.split(":", 1)[1]
    elif source.startswith("tcp://"):
        name = "served-" + source.removeprefix("tcp://")
    else:
        from kuavo_cli.checkpoints import resolve_checkpoint
        from kuavo_cli.evaluate.api import checkpoint_label

        name = checkpoint_label(resolve_checkpoint(source))
    name = re.sub(r"[^A-Za-z0-9@._-]+", "_", name) or "checkpoint"
    return name if name not in taken else f"{name}-{len(taken)}"


def evaluate_sim(
    sources: Sequence[str | Path],
    scene: str = "standin",
    episodes: int = 10,
    seed: int = 0,
    assets: Path | None = None,
    workers: int = 1,
    video: bool = False,
    latency: str | float | None = "measured",
    jpeg_quality: int | None = None,
    device: str | None = None,
    out: Path | None = None,
    plots_enabled: bool = True,
    console: Console | None = None,
) -> dict[str, Any]:
    """Score each checkpoint (or builtin:expert / builtin:hold) on `episodes` seeds; write the report."""
    from kuavo_cli.evaluate.api import resolve_device
    from kuavo_cli.sim.render import configure_gl

    console = console or Console(stderr=True)
    if not sources:
        raise UsageError("no checkpoint given", "kuavo eval CKPT [CKPT ...] --sim standin")
    if episodes < 1:
        raise UsageError(f"--episodes must be >= 1 for --sim (got {episodes})")
    if workers < 1:
        raise UsageError(f"--workers must be >= 1 (got {workers})")
    if jpeg_quality is not None and not 1 <= jpeg_quality <= 100:
        raise UsageError(f"--jpeg {jpeg_quality} must be in 1..100")
    latency_s = parse_latency(latency)
    device = resolve_device(device)
    backend = configure_gl()  # before MuJoCo is imported: EGL can still fall back to OSMesa
    import mujoco

    world = make_scene(scene, assets)
    seeds = list(range(seed, seed + episodes))
    out = Path(out) if out is not None else Path("outputs") / "eval" / f"sim-{scene}"

    # Load every checkpoint and check its features before any episode runs.
    loaded: list[tuple[str, str, Any]] = []
    labels: list[str] = []
    for source in map(str, sources):
        label = _label(source, labels)
        labels.append(label)
        loaded.append((source, label, make_agent(source, world, device)))

    results = []
    total = len(loaded) * len(seeds)
    with Progress(
        TextColumn("[bold]{task.description}[/bold]"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, transient=True,
    ) as progress:  # fmt: skip
        bar = progress.add_task(f"sim {scene}", total=total)
        for source, label, agent in loaded:
            progress.update(bar, description=f"{label} on {scene}")
            job = EpisodeJob(
                source=source, scene=scene, assets=str(assets) if assets else None, device=device,
                options=EpisodeOptions(latency_s=latency_s, jpeg_quality=jpeg_quality),
                video_dir=str(out / "videos" / label) if video else None,
            )  # fmt: skip
            # A served policy keeps one action queue on the server: its episodes must run one at a time.
            n_workers = 1 if source.startswith("tcp://") else workers
            preloaded = (world, agent) if n_workers <= 1 else None
            episodes_out = run_many(job, seeds, n_workers, lambda _r: progress.advance(bar), preloaded)
            for e in episodes_out:
                if e.get("error"):
                    console.print(f"[yellow]warning:[/yellow] {label} seed {e['seed']}: {e['error']}")
                e.pop("traceback", None)
            results.append({
                "label": label, "source": source,
                "policy_type": getattr(getattr(agent, "cfg", None), "type", source),
                "cameras": {k: list(v) for k, v in agent.needs.cameras.items()},
                "summary": sim_report.summarise(episodes_out), "episodes": episodes_out,
            })  # fmt: skip

    report: dict[str, Any] = {
        "kuavo_sim_report": sim_report.SIM_REPORT_VERSION,
        "scene": scene,
        "task": world.task.name,
        "instruction": world.task.instruction,
        "fidelity_note": world.fidelity_note,
        "seeds": seeds,
        "latency": "measured" if latency_s is None else f"{latency_s * 1000:g} ms",
        "jpeg_quality": jpeg_quality,
        "render_backend": backend,
        "mujoco_version": mujoco.__version__,
        "physics_dt": float(world.model.opt.timestep),
        "control_dt": world.control_dt,
        "device": device,
        "workers": workers,
        "results": results,
        "ranking": sim_report.rank(results),
        "plots": [],
        "out_dir": str(out),
    }
    sim_report.write(out, report, with_plot=plots_enabled)
    return report


def check_simulator(
    assets: Path | str | None = None,
    tasks: Sequence[str] | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> CheckReport:
    """`kuavo sim check`: is this checkout of the official simulator (default $KUAVO_SIM_ASSETS) usable for
    `--sim task1..3`? A report with one item per check and a fix per problem (`report.ok`)."""
    from kuavo_cli.sim.official.check import check_checkout
    from kuavo_cli.sim.official.layout import TASKS

    chosen = tuple(tasks) if tasks else TASKS
    unknown = [t for t in chosen if t not in TASKS]
    if unknown:
        raise UsageError(f"unknown task {', '.join(unknown)}", hint=f"use {', '.join(TASKS)}")
    return check_checkout(assets, chosen, on_progress=on_progress)
