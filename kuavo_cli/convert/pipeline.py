"""`kuavo convert`: bags -> per-bag staged episodes (parallel) -> one merged LeRobot dataset (bag order).

Folder contract (see docs/convert.md):
  <out>/                               only ever appears by a rename, complete
  <out parent>/.<out name>.kuavo-convert/
      run.json                         options of the run (checked by --resume)
      episodes/<bag stem>-<hash>/      one finished one-episode dataset + episode.json per bag
      tmp/                             work in progress (discarded on restart)
      merged/                          the merge in progress, renamed to <out> at the end
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kuavo_cli import __version__
from kuavo_cli.convert.config import ConvertConfig
from kuavo_cli.convert.merge import PROVENANCE_FILE, PROVENANCE_FORMAT, aggregate_into, replace_atomically
from kuavo_cli.convert.profile import merge_profiles
from kuavo_cli.convert.shard import select_shard
from kuavo_cli.convert.topics import camera_names
from kuavo_cli.convert.worker import (
    BagJob,
    BagResult,
    convert_bag,
    load_staged,
    local_identity,
    warm_up,
)
from kuavo_cli.errors import UsageError

Progress = Callable[[BagResult, int, int], None]


@dataclass
class ConvertSummary:
    out: Path
    repo_id: str
    results: list[BagResult] = field(default_factory=list)  # in bag order
    workers: int = 1
    seconds: float = 0.0
    merge_seconds: float = 0.0
    merge_cpu_seconds: float = 0.0  # main-process CPU of the merge (its workers are idle by then)
    written: bool = False
    staging: Path | None = None
    shard: str | None = None
    bags_total: int = 0  # bags in the list before --shard / --limit
    profile: dict | None = None  # --profile: merged per-stage CPU seconds

    @property
    def converted(self) -> list[BagResult]:
        return [r for r in self.results if r.status == "converted"]

    @property
    def skipped(self) -> list[BagResult]:
        return [r for r in self.results if r.status == "skipped"]

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.converted)

    def throughput(self) -> dict:
        """Frames per second: whole run (wall clock, all workers) and per worker (one bag at a time)."""
        fresh = [r for r in self.converted if not r.reused]
        busy = sum(r.seconds for r in fresh)
        return {
            "frames_per_s_total": round(sum(r.frames for r in fresh) / self.seconds, 2)
            if self.seconds
            else None,
            "frames_per_s_per_worker": round(sum(r.frames for r in fresh) / busy, 2) if busy else None,
            "peak_rss_mb_per_worker": round(max((r.peak_rss_mb for r in fresh), default=0.0), 1) or None,
        }

    def to_dict(self) -> dict:
        return {
            "out": str(self.out),
            "repo_id": self.repo_id,
            "written": self.written,
            "episodes": len(self.converted),
            "frames": self.frames,
            "converted": [
                {
                    "bag": Path(r.path).name,
                    "frames": r.frames,
                    "gripper": r.provenance.get("gripper_variant"),
                    "reused": r.reused,
                    "seconds": round(r.seconds, 2),
                }
                for r in self.converted
            ],  # fmt: skip
            "skipped": [{"bag": Path(r.path).name, "reason": r.reason} for r in self.skipped],
            "workers": self.workers,
            "seconds": round(self.seconds, 2),
            "merge_seconds": round(self.merge_seconds, 2),
            **self.throughput(),
            "staging": str(self.staging) if self.staging else None,
            "shard": self.shard,
            "bags_total": self.bags_total,
            **({"profile": self.profile} if self.profile is not None else {}),
        }


def find_bags(inputs: list[Path]) -> list[Path]:
    """Folders give their `*.bag` files (not recursive, sorted by name, as the official lister); files as given."""
    if not inputs:
        raise UsageError("no bag folder or file given", "kuavo convert BAG_DIR --out DATASET_DIR")
    bags: list[Path] = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found = sorted(p for p in item.glob("*.bag") if p.is_file())
            if not found:
                raise UsageError(f"no .bag files in {item}", "pass the folder that holds the bags")
            bags.extend(found)
        elif item.is_file():
            bags.append(item)
        else:
            raise UsageError(f"{item} does not exist", "pass bag files or folders of bags")
    unique = list(dict.fromkeys(p.resolve() for p in bags))
    return unique


def staging_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.kuavo-convert"


def bag_key(path: Path) -> str:
    return f"{path.stem}-{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]}"


def default_repo_id(inputs: list[Path], out: Path) -> str:
    if len(inputs) == 1 and Path(inputs[0]).is_dir():
        return f"lerobot/{Path(inputs[0]).resolve().name}"
    return f"lerobot/{out.name}"


def _prepare_staging(out: Path, cfg: ConvertConfig, resume: bool, force: bool) -> Path:
    staging = staging_dir(out)
    if force:
        shutil.rmtree(staging, ignore_errors=True)
    elif out.exists() and not (resume and staging.exists()):
        raise UsageError(f"{out} already exists", "pass --force to replace it, or choose another --out")
    elif staging.exists() and not resume:
        raise UsageError(
            f"an interrupted conversion into {out} is staged in {staging}",
            "pass --resume to continue it, or --force to start over",
        )
    changed = changed_staged_options(staging, cfg)
    if changed:
        raise UsageError(
            f"--resume with different options than the staged run: {', '.join(changed)}",
            "rerun with the same options, or pass --force to start over",
        )
    shutil.rmtree(staging / "tmp", ignore_errors=True)
    shutil.rmtree(staging / "merged", ignore_errors=True)
    (staging / "episodes").mkdir(parents=True, exist_ok=True)
    run = {"options": cfg.output_options(), "kuavo": __version__}
    (staging / "run.json").write_text(json.dumps(run, indent=2), encoding="utf-8")
    return staging


def changed_staged_options(staging: Path, cfg: ConvertConfig) -> list[str]:
    """Output options that differ from the run staged in `staging` (none when nothing is staged)."""
    run_file = staging / "run.json"
    if not run_file.exists():
        return []
    options = cfg.output_options()
    previous = json.loads(run_file.read_text(encoding="utf-8")).get("options", {})
    return sorted(k for k in set(options) | set(previous) if options.get(k) != previous.get(k))


def encoder_threads(cfg: ConvertConfig, workers: int) -> int:
    """Threads per video encoder: the cores split between every camera stream of every worker. Each
    stream has its own encoder thread already; SVT-AV1 spends ~8% more CPU with lp=2 than lp=1 when
    six encoders share two cores, for no gain in wall time."""
    streams = len(camera_names(cfg.arms, cfg.depth))
    return max(1, (os.cpu_count() or 1) // (workers * streams))


def _run_jobs(jobs: list[BagJob], workers: int, on_result: Callable[[BagResult], None]) -> None:
    if workers == 1:
        if jobs:
            warm_up()
        for job in jobs:
            on_result(convert_bag(job))
        return
    # spawn, not fork: the parent may already hold torch / video threads that fork would copy broken.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=warm_up) as pool:
        futures = [pool.submit(convert_bag, job) for job in jobs]
        try:
            for future in as_completed(futures):
                on_result(future.result())
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def convert_bags(
    inputs: list[Path],
    out: Path,
    cfg: ConvertConfig,
    resume: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    profile: bool = False,
) -> ConvertSummary:
    """Convert every bag (of the shard); merge the converted ones in bag order into `out` (unless none,
    or --strict fails). `profile`: time every stage (summary.profile)."""
    start = time.perf_counter()
    out = Path(out).absolute()
    bags = find_bags(inputs)
    bags_total = len(bags)
    bags = select_shard(bags, cfg.shard, name=lambda p: p.name)
    if not bags:
        raise UsageError(
            f"shard {cfg.shard} of the {bags_total} bag(s) is empty", "use fewer shards for so few bags"
        )
    if cfg.limit:
        bags = bags[: cfg.limit]
    repo_id = cfg.repo_id or default_repo_id(inputs, out)
    staging = _prepare_staging(out, cfg, resume, force)

    results: dict[int, BagResult] = {}
    jobs = []
    options = cfg.output_options()
    for order, path in enumerate(bags):
        key = bag_key(path)
        record = load_staged(staging, key, local_identity(path), options) if resume else None
        if record is not None:
            prov = record["provenance"]
            results[order] = BagResult(
                order, str(path), key, "converted", frames=prov["frames"], family=record["family"],
                provenance=prov, reused=True,
            )  # fmt: skip
        else:
            jobs.append(BagJob(order, str(path), key, str(staging), repo_id, cfg.model_dump()))
    workers = cfg.worker_count(len(jobs))
    for job in jobs:
        job.encoder_threads = encoder_threads(cfg, workers)
        job.profile = profile
    summary = ConvertSummary(
        out=out, repo_id=repo_id, workers=workers, staging=staging, shard=cfg.shard, bags_total=bags_total
    )

    done = len(results)
    if progress:
        for r in results.values():
            progress(r, done, len(bags))

    def on_result(result: BagResult) -> None:
        nonlocal done
        results[result.order] = result
        done += 1
        if progress:
            progress(result, done, len(bags))

    _run_jobs(jobs, workers, on_result)
    summary.results = [results[i] for i in sorted(results)]
    exclude_other_family(summary.results)

    if summary.converted and not (cfg.strict and summary.skipped):
        merge_start, merge_cpu = time.perf_counter(), time.process_time()
        merge_episodes(summary, cfg, staging)
        summary.merge_seconds = time.perf_counter() - merge_start
        summary.merge_cpu_seconds = time.process_time() - merge_cpu
        summary.written = True
        summary.staging = None
    elif not any((staging / "episodes").iterdir()):
        shutil.rmtree(staging, ignore_errors=True)  # nothing worth resuming
        summary.staging = None
    if profile:
        summary.profile = merge_profiles(
            [r.profile for r in summary.results if r.profile], summary.merge_cpu_seconds
        )
    summary.seconds = time.perf_counter() - start
    return summary


def exclude_other_family(results: list[BagResult]) -> None:
    """One dataset has one set of action names: bags of the other gripper family are skipped."""
    converted = [r for r in results if r.status == "converted"]
    if not converted:
        return
    family = converted[0].family
    for r in converted:
        if r.family != family:
            r.status = "skipped"
            r.reason = (
                f"gripper {r.provenance.get('gripper')} has {r.family} action names but the dataset "
                f"(first bag) has {family} ones; convert it separately with --gripper"
            )


def _source_path(result: BagResult) -> dict:
    """Hub bags also carry their repo path (what a re-run of `--hub` checks against)."""
    path = result.provenance.get("source_path")
    return {"source_path": path} if path else {}


def merge_episodes(summary: ConvertSummary, cfg: ConvertConfig, staging: Path) -> None:
    """lerobot's own aggregation, into staging/merged, then one rename to the output folder."""
    merged = staging / "merged"
    shutil.rmtree(merged, ignore_errors=True)
    episodes = summary.converted
    aggregate_into([staging / "episodes" / r.key / "dataset" for r in episodes], summary.repo_id, merged)
    record = {
        "format": PROVENANCE_FORMAT,
        "kuavo_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "options": cfg.output_options(),
        "episodes": [{"episode_index": i, **r.provenance} for i, r in enumerate(episodes)],
        "skipped": [
            {"source_bag": Path(r.path).name, "reason": r.reason, **_source_path(r)} for r in summary.skipped
        ],
    }
    (merged / PROVENANCE_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    replace_atomically(merged, summary.out, staging)
    shutil.rmtree(staging, ignore_errors=True)
