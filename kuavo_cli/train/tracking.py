"""Main-process bookkeeping: metrics.jsonl, Weights & Biases, the rich progress bar, the profiler."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from kuavo_cli.config.models import TrainConfig


class MetricsLog:
    """Appends one JSON object per event to <run>/metrics.jsonl (flushed: nothing lost on a crash)."""

    def __init__(self, path: Path, enabled: bool):
        self.path = path
        self.enabled = enabled

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"time": round(time.time(), 3), **record}) + "\n")

    def truncate_after(self, step: int) -> None:
        """On resume, drop records of steps the resumed run will redo."""
        if not (self.enabled and self.path.exists()):
            return
        kept = [
            ln for ln in self.path.read_text().splitlines() if ln and json.loads(ln).get("step", 0) <= step
        ]
        self.path.write_text("".join(ln + "\n" for ln in kept))


class WandbLog:
    def __init__(self, cfg: TrainConfig, run_dir: Path, enabled: bool, resume_id: str | None = None):
        """`resume_id`: the wandb run to continue (the id saved in the checkpoint a run resumes from)."""
        self.run = None
        if not (enabled and cfg.wandb.enable):
            return
        import wandb

        mode = cfg.wandb.mode or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
        self.run = wandb.init(
            project=cfg.wandb.project,
            entity=cfg.wandb.entity,
            notes=cfg.wandb.notes,
            id=resume_id,
            resume="allow" if resume_id else None,
            dir=str(run_dir),
            mode=mode,
            config=cfg.model_dump(mode="json"),
            name=cfg.job_name,
        )

    def log(self, data: dict[str, Any], step: int) -> None:
        if self.run is not None:
            self.run.log(data, step=step)

    @property
    def run_id(self) -> str | None:
        return None if self.run is None else self.run.id

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()


def make_progress(console: Console, enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]train[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )


def make_profiler(cfg: TrainConfig, run_dir: Path, enabled: bool):
    """A torch.profiler stepped once per optimizer step; writes a Chrome trace after warmup + active."""
    if not (cfg.enable_profiling and enabled):
        return contextlib.nullcontext(None)
    import torch

    out = Path(cfg.profiling_output_dir or run_dir / "profiling")
    out.mkdir(parents=True, exist_ok=True)

    def on_ready(prof: Any) -> None:
        prof.export_chrome_trace(str(out / f"trace_step{prof.step_num}.json"))

    activities = [torch.profiler.ProfilerActivity.CPU]
    if torch.cuda.is_available():
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    return torch.profiler.profile(
        activities=activities,
        schedule=torch.profiler.schedule(
            wait=0, warmup=cfg.profiling_warmup_steps, active=cfg.profiling_active_steps, repeat=1
        ),
        on_trace_ready=on_ready,
        record_shapes=False,
    )


class LossWindow:
    """The training loss summed on the device over the steps since the last log (no sync per step)."""

    def __init__(self, device: Any):
        self.device = device
        self.reset()

    def reset(self) -> None:
        import torch

        self.total, self.n, self.t0 = torch.zeros((), device=self.device), 0, time.perf_counter()

    def add(self, loss: Any) -> None:
        self.total += loss
        self.n += 1

    def mean(self) -> Any:
        return self.total / self.n

    def seconds(self) -> float:
        return time.perf_counter() - self.t0


class DataBoundWarning:
    """Poor GPU utilisation (seed README troubleshooting): say so once, with the fix, when it happens."""

    def __init__(self, console: Console, cfg: TrainConfig, is_main: bool):
        self.console, self.cfg, self.is_main, self.warned = console, cfg, is_main, False

    def check(self, fraction: float, step: int) -> None:
        """`fraction`: of the last log window's time the loop spent waiting for the next batch."""
        if self.warned or fraction < 0.5 or step < 2 * self.cfg.log_freq:
            return
        from kuavo_cli.errors_advice import LowGpuUtilization, advice_for

        self.warned = True
        if self.is_main:
            advice = advice_for(LowGpuUtilization(fraction), self.cfg.model_dump(mode="json"))
            self.console.print(
                f"[yellow]warning:[/yellow] the training loop waited for data {fraction:.0%} of "
                f"the time{'; ' + advice if advice else ''}"
            )


class RankTrace:
    """Opt-in per-rank debug trace (KUAVO_TRACE_DIR): which samples each rank consumed at each step, its local
    validation sums and a final parameter checksum. For diagnosing data sharding and rank divergence."""

    def __init__(self, rank: int):
        folder = os.environ.get("KUAVO_TRACE_DIR")
        self.path = Path(folder) / f"rank{rank}.jsonl" if folder else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("")

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def write(self, record: dict[str, Any]) -> None:
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
