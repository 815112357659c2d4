"""`kuavo eval` as a library: evaluate one or several checkpoints, write reports, rank them."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from kuavo_cli.checkpoints import CheckpointRef, load_policy, resolve_checkpoint, verify_pretrained_dir
from kuavo_cli.data.integrity import check_episode_files
from kuavo_cli.data.metadata import open_metadata
from kuavo_cli.data.schema import GRIPPER_INDICES, joint_names
from kuavo_cli.errors import UsageError
from kuavo_cli.evaluate import metrics, plots
from kuavo_cli.evaluate.latency import latency_summary, memory_summary, reset_peak_rss
from kuavo_cli.evaluate.replay import replay
from kuavo_cli.evaluate.report import (
    REPORT_VERSION,
    comparison_markdown,
    comparison_warnings,
    print_ranking,
    print_report,
    ranking,
    write_report,
)
from kuavo_cli.evaluate.sources import check_features, choose_episodes, rename_map, resolve_dataset
from kuavo_cli.utils.atomic import write_json, write_text
from kuavo_cli.utils.logs import quiet_logs

N_TIME_BINS = 10


@contextlib.contextmanager
def no_datasets_progress() -> Iterator[None]:
    """huggingface `datasets` draws a "Map" bar per filter; our own progress bar is the one that matters."""
    from datasets.utils import logging as ds_logging

    was_enabled = ds_logging.is_progress_bar_enabled()
    ds_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            ds_logging.enable_progress_bar()


def resolve_device(device: str | None) -> str:
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise UsageError(f"--device {device!r} is not supported", "use cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(
            "--device cuda was requested but no CUDA GPU is visible to torch", "use --device cpu"
        )
    return device


def checkpoint_label(ref: CheckpointRef) -> str:
    base = ref.run_dir.name if ref.run_dir else ref.pretrained_dir.parent.name
    if ref.run_dir is None and ref.pretrained_dir.name != "pretrained_model":
        base = ref.pretrained_dir.name
    step = ref.step
    return f"{base}@{step}" if step is not None else base


def default_out_dir(ref: CheckpointRef, label: str) -> Path:
    if ref.run_dir is not None:
        step = ref.step
        if step is not None:
            return ref.run_dir / "eval" / f"{step:06d}"
        return ref.run_dir / "eval" / (ref.step_dir.resolve().name if ref.step_dir else _safe(label))
    return Path("outputs") / "eval" / _safe(label)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "checkpoint"


def _action_names(meta: Any, key: str, dim: int) -> list[str]:
    names = (meta.features.get(key) or {}).get("names")
    if isinstance(names, dict):  # {"action_names": [...]}, as the Kuavo converter writes
        names = next(iter(names.values()), None)
    if isinstance(names, list) and len(names) == dim:
        return [str(n) for n in names]
    fallback = joint_names(key)
    return fallback if len(fallback) == dim else [f"dim_{i}" for i in range(dim)]


@dataclass(frozen=True)
class EvalOptions:
    """How checkpoints are replayed; the same for every checkpoint of one `kuavo eval`."""

    dataset: str | None = None  # folder or repo id; default: the one the checkpoint was trained on
    episodes: str | None = None  # e.g. "0,3,5-7"; default: the run's held-out split
    device: str | None = None  # default: cuda when available, else cpu
    seed: int = 0  # for sampling policies such as Diffusion
    plots: bool = True


def evaluate_checkpoint(
    path: str | Path,
    options: EvalOptions = EvalOptions(),
    out: Path | None = None,
    console: Console | None = None,
) -> dict:
    """Evaluate one checkpoint; writes report.json, report.md and plots to the out folder; returns the report."""
    console = console or Console(stderr=True)
    device = resolve_device(options.device)
    ref = resolve_checkpoint(path)
    label = checkpoint_label(ref)
    choice = resolve_dataset(ref, options.dataset)

    # Meta files first (lerobot's loader would go to the hub for a missing one), then every data and video
    # file of the chosen episodes: a missing or truncated file is named before any model is loaded.
    meta = open_metadata(choice.root, choice.repo_id)
    picked = choose_episodes(ref, choice, meta, options.episodes)
    check_episode_files(meta, picked.episodes)

    rss_reset = reset_peak_rss()
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats()
    policy, cfg, pre, post = load_policy(ref, device=device)
    feature_map = check_features(cfg, meta, rename_map(pre), str(choice.root))
    from lerobot.datasets import LeRobotDataset

    with quiet_logs(), no_datasets_progress():
        data = LeRobotDataset(choice.repo_id, root=choice.root, episodes=picked.episodes)

    with Progress(
        TextColumn(f"[bold]{label}[/bold]"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("replay", total=len(data))
        result = replay(
            policy, cfg, pre, post, data, feature_map, device, seed=options.seed,
            on_frame=lambda: progress.advance(task),
        )  # fmt: skip

    action_key = next(iter(cfg.output_features))
    dim = int(cfg.output_features[action_key].shape[0])
    names = _action_names(meta, feature_map[action_key], dim)
    grippers = GRIPPER_INDICES if dim == 16 else ()
    warnings = list(picked.warnings)
    if not result.chunk_tracking:
        warnings.append(f"{cfg.type} does not predict action chunks: chunk positions are not reported")

    out = Path(out) if out is not None else default_out_dir(ref, label)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "kuavo_eval_report": REPORT_VERSION,
        "checkpoint": {
            "label": label,
            "path": str(path),
            "pretrained_dir": str(ref.pretrained_dir),
            "run_dir": str(ref.run_dir) if ref.run_dir else None,
            "step": ref.step,
            "policy_type": cfg.type,
        },
        "dataset": {"root": str(choice.root), "repo_id": choice.repo_id, "fps": float(meta.fps)},
        "episodes": [ep.episode for ep in result.episodes],
        "episodes_source": picked.source,
        "device": device,
        "seed": options.seed,
        "policy": _chunking(cfg),
        "overall": metrics.overall(result.episodes, grippers),
        "per_joint": metrics.per_joint(
            _stack(result.episodes, "pred"), _stack(result.episodes, "rec"), names, grippers
        ),
        "per_episode": metrics.episode_rows(result.episodes, grippers),
        "error_vs_time": metrics.error_vs_time(
            result.episodes, min(N_TIME_BINS, min(len(ep.pred) for ep in result.episodes))
        ),
        "error_by_chunk_position": metrics.error_by_chunk_position(result.episodes),
        "latency": latency_summary(result.tick_ms, result.ran_model, float(meta.fps)),
        "memory": memory_summary(device, rss_reset),
        "plots": [],
        "warnings": warnings,
        "out_dir": str(out),
    }
    if options.plots:
        report["plots"] = plots.write_plots(out, result.episodes, report, names, float(meta.fps))
    write_report(out, report)
    return report


def _stack(episodes: list[metrics.EpisodeResult], attr: str) -> Any:
    import numpy as np

    return np.concatenate([getattr(ep, attr) for ep in episodes])


def _chunking(cfg: Any) -> dict:
    ensemble = getattr(cfg, "temporal_ensemble_coeff", None)
    n_action = getattr(cfg, "n_action_steps", None)
    how = (
        f"temporal ensembling (coeff {ensemble})"
        if ensemble is not None
        else f"action queue of {n_action} steps"
        if n_action
        else "one action per call"
    )
    return {
        "chunking": how,
        "chunk_size": getattr(cfg, "chunk_size", getattr(cfg, "horizon", None)),
        "n_action_steps": n_action,
        "n_obs_steps": getattr(cfg, "n_obs_steps", None),
        "temporal_ensemble_coeff": ensemble,
    }


def evaluate_many(
    paths: Sequence[str | Path],
    options: EvalOptions = EvalOptions(),
    out: Path | None = None,
    console: Console | None = None,
) -> dict:
    """Evaluate each checkpoint; with several, also rank them. Returns {"reports": [...], "comparison": ...}."""
    if not paths:
        raise UsageError("no checkpoint given", "kuavo eval RUN_DIR_OR_CHECKPOINT [...]")
    console = console or Console(stderr=True)
    refs = [resolve_checkpoint(p) for p in paths]  # fail fast on a bad path before any replay
    for ref in refs:
        verify_pretrained_dir(ref.pretrained_dir)  # ... and on a damaged file before any replay
    outs = _out_dirs(refs, out)
    reports = [evaluate_checkpoint(p, options, o, console) for p, o in zip(paths, outs, strict=True)]
    result: dict[str, Any] = {"reports": reports, "comparison": None}
    if len(reports) > 1:
        where = Path(out) if out is not None else Path("outputs") / "eval" / "comparison"
        where.mkdir(parents=True, exist_ok=True)
        comparison: dict[str, Any] = {
            "ranking": ranking(reports),
            "warnings": comparison_warnings(reports),
            "out_dir": str(where),
        }
        comparison["plots"] = (
            [plots.comparison(comparison["ranking"], where / "comparison.png").name] if options.plots else []
        )
        write_json(where / "comparison.json", comparison)
        write_text(where / "comparison.md", comparison_markdown(comparison))
        result["comparison"] = comparison
    return result


def _out_dirs(refs: list[CheckpointRef], out: Path | None) -> list[Path | None]:
    if out is None:
        return [None] * len(refs)
    if len(refs) == 1:
        return [Path(out)]
    labels: list[str] = []
    for ref in refs:
        name = _safe(checkpoint_label(ref))
        labels.append(name if name not in labels else f"{name}-{len(labels)}")
    return [Path(out) / name for name in labels]


def result_document(result: dict) -> dict:
    """What `kuavo eval --json` prints: one checkpoint, its report (as report.json); several, the ranking
    with every report."""
    comparison = result["comparison"]
    return {**comparison, "reports": result["reports"]} if comparison else result["reports"][0]


def print_results(console: Console, result: dict) -> None:
    for report in result["reports"]:
        print_report(console, report)
    if result["comparison"]:
        print_ranking(console, result["comparison"])


def run_demo_eval(run_dir: Path, data_root: Path, out_dir: Path, console: Console | None = None) -> dict:
    """The `kuavo demo` step: the run's best checkpoint on its held-out split; returns the summary."""
    console = console or Console(stderr=True)
    options = EvalOptions(dataset=str(data_root), device="cpu")
    report = evaluate_checkpoint(run_dir, options, out=Path(out_dir), console=console)
    print_report(console, report)
    return {
        "checkpoint": report["checkpoint"]["pretrained_dir"],
        "step": report["checkpoint"]["step"],
        "episodes": report["episodes"],
        "episodes_source": report["episodes_source"],
        "mse": report["overall"]["mse"],
        "mae": report["overall"]["mae"],
        "gripper_agreement": report["overall"]["gripper_agreement"],
        "latency_p95_ms": report["latency"]["p95_ms"],
        "realtime": report["latency"]["realtime"],
        "report": str(Path(out_dir) / "report.json"),
    }
