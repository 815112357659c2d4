"""`kuavo convert --hub REPO ... --out DIR --max-disk 50GB`: fetch, convert and delete bags in one pipeline.

Bags are downloaded (huggingface_hub, a few at a time), converted by the usual workers into the
per-bag staging area of their task's dataset, and deleted as soon as they are converted. A bag is
admitted for download only while the bags on disk (downloading, waiting, being converted) plus this
one fit in `max_disk`, so the raw data never exceeds the cap. When every bag of a task folder is
done, its episodes are merged (lerobot's aggregation) into `DIR/<task folder>`: one dataset per task.

Kill it at any point and run the same command again:
  * a converted bag has a staged episode (renamed into place when complete) and is never fetched again;
  * a bag that was being converted is converted again (its half-written episode lives under tmp/);
  * a bag fully downloaded but not converted is reused; a half-downloaded one is fetched again;
  * a bag that could not be converted is recorded, with its reason, and not fetched again;
  * a finished task dataset is left alone.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from kuavo_cli.convert.config import ConvertConfig
from kuavo_cli.convert.hub_scheduler import BOOKKEEPING_BYTES, SKIPPED_DIR, RemoteBag, Scheduler
from kuavo_cli.convert.merge import read_provenance
from kuavo_cli.convert.pipeline import (
    ConvertSummary,
    changed_staged_options,
    exclude_other_family,
    merge_episodes,
    staging_dir,
)
from kuavo_cli.convert.profile import merge_profiles
from kuavo_cli.convert.shard import select_shard
from kuavo_cli.convert.worker import BagResult, load_staged
from kuavo_cli.errors import UsageError
from kuavo_cli.hub.sizes import human_bytes

if TYPE_CHECKING:
    from kuavo_cli.hub.plan import DownloadRequest


@dataclass
class HubSource:
    request: DownloadRequest  # repo, revision, filters; local_dir = where raw bags wait
    max_disk: int  # bytes of raw bags allowed on disk at once
    download_workers: int = 2
    verify: bool = True


@dataclass
class HubSummary:
    out: Path
    repo_id: str
    commit: str
    tasks: dict[str, ConvertSummary] = field(default_factory=dict)
    up_to_date: list[str] = field(default_factory=list)  # tasks whose dataset was already complete
    fetched: int = 0
    bytes_fetched: int = 0
    reused_downloads: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    max_disk: int = 0
    raw_peak_bytes: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "out": str(self.out),
            "repo_id": self.repo_id,
            "commit": self.commit,
            "datasets": {
                name: {**s.to_dict(), "written": s.written} for name, s in sorted(self.tasks.items())
            },
            "up_to_date": self.up_to_date,
            "bags_fetched": self.fetched,
            "bytes_fetched": self.bytes_fetched,
            "downloads_reused": self.reused_downloads,
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "max_disk_bytes": self.max_disk,
            "raw_disk_peak_bytes": self.raw_peak_bytes,
            "seconds": round(self.seconds, 2),
        }


def remote_key(path: str) -> str:
    return f"{PurePosixPath(path).stem}-{hashlib.sha1(path.encode()).hexdigest()[:8]}"


def _task_names(bags: list) -> dict[str, str]:
    """Task folder (repo path) -> dataset folder name: its last component, the whole path on a clash."""
    parents = sorted({b.parent for b in bags})
    last = [PurePosixPath(p).name for p in parents]
    return {
        p: (n if last.count(n) == 1 else p.replace("/", "__")) for p, n in zip(parents, last, strict=True)
    }


def _plan(source: HubSource, cfg: ConvertConfig):
    from kuavo_cli.hub.plan import fetch_listing
    from kuavo_cli.hub.settings import hub_settings

    settings = hub_settings()
    listing = fetch_listing(source.request, settings)
    selected = [f for f in source.request.filters.select(listing.files) if f.is_bag]
    if not selected:
        raise UsageError(
            f"no .bag file in {listing.repo_id} matches {source.request.filters.describe()}",
            "run `kuavo download --list` to see the folders and their bags",
        )
    selected = select_shard(selected, cfg.shard, name=lambda f: PurePosixPath(f.path).name)
    if cfg.limit:
        selected = selected[: cfg.limit]
    if not selected:
        raise UsageError(f"shard {cfg.shard} of the selected bags is empty", "use fewer shards")
    biggest = max(selected, key=lambda f: f.size)
    if biggest.size + BOOKKEEPING_BYTES > source.max_disk:  # huggingface_hub's files beside it count too
        raise UsageError(
            f"--max-disk {human_bytes(source.max_disk)} is smaller than {biggest.path} "
            f"({human_bytes(biggest.size)}, plus {human_bytes(BOOKKEEPING_BYTES)} of download bookkeeping)",
            "raise --max-disk to at least the largest bag (better: a few bags per worker)",
        )
    names = _task_names(selected)
    bags, counters = [], {}
    for f in selected:
        task = names[f.parent]
        counters[task] = counters.get(task, -1) + 1
        identity = {"repo": listing.repo_id, "path": f.path, "hash": f.sha256 or f.blob_id, "size": f.size}
        bags.append(RemoteBag(f, task, counters[task], remote_key(f.path), identity))
    return settings, listing, bags


def _prepare_task(out: Path, cfg: ConvertConfig, bags: list[RemoteBag], force: bool) -> Path | None:
    """The task's staging folder, or None when its dataset is already complete."""
    staging = staging_dir(out)
    if force:
        shutil.rmtree(staging, ignore_errors=True)
    elif out.exists():
        prov = read_provenance(out) or {}
        have = {e.get("source_path") for e in prov.get("episodes", [])}
        have |= {s.get("source_path") for s in prov.get("skipped", [])}
        missing = [b.path for b in bags if b.path not in have]
        if not missing:
            shutil.rmtree(staging, ignore_errors=True)  # a kill after the final rename leaves it
            return None
        raise UsageError(
            f"{out} already exists without {len(missing)} of the selected bags (e.g. {missing[0]})",
            "pass --force to convert that task again, or choose another --out",
        )
    changed = changed_staged_options(staging, cfg)
    if changed:
        raise UsageError(
            f"{out}: a run with other options is staged ({', '.join(changed)})",
            "rerun with the same options, or pass --force to start that task over",
        )
    shutil.rmtree(staging / "tmp", ignore_errors=True)  # half-converted bags: redone
    shutil.rmtree(staging / "merged", ignore_errors=True)
    (staging / "episodes").mkdir(parents=True, exist_ok=True)
    (staging / SKIPPED_DIR).mkdir(parents=True, exist_ok=True)
    run = {"options": cfg.output_options()}
    (staging / "run.json").write_text(json.dumps(run, indent=2), encoding="utf-8")
    return staging


def _load_skip(staging: Path, bag: RemoteBag, options: dict) -> str | None:
    try:
        record = json.loads((staging / SKIPPED_DIR / f"{bag.key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("identity") != bag.identity or record.get("options") != options:
        return None
    return record.get("reason", "skipped")


def convert_from_hub(
    source: HubSource,
    out_root: Path,
    cfg: ConvertConfig,
    force: bool = False,
    on_event: Callable | None = None,
    profile: bool = False,
) -> HubSummary:
    """Fetch -> convert -> delete every selected bag under the disk cap; one dataset per task folder."""
    start = time.perf_counter()
    out_root = Path(out_root).absolute()
    settings, listing, bags = _plan(source, cfg)
    raw_dir = Path(source.request.local_dir or out_root / ".kuavo-raw").absolute()
    summary = HubSummary(out_root, listing.repo_id, listing.commit, max_disk=source.max_disk)
    on_event = on_event or (lambda *a: None)
    options = cfg.output_options()
    by_task: dict[str, list[RemoteBag]] = {}
    for bag in bags:
        by_task.setdefault(bag.task, []).append(bag)

    stagings: dict[str, Path] = {}
    repo_ids = {t: cfg.repo_id or f"lerobot/{t}" for t in by_task}
    todo: list[RemoteBag] = []
    scheduler = Scheduler(source, cfg, settings, listing, raw_dir, summary, on_event, profile)
    for task, task_bags in by_task.items():
        staging = _prepare_task(out_root / task, cfg, task_bags, force)
        if staging is None:
            summary.up_to_date.append(task)
            for bag in task_bags:
                scheduler.discard(bag)
            continue
        stagings[task] = staging
        for bag in task_bags:
            record = load_staged(staging, bag.key, bag.identity, options)
            reason = None if record else _load_skip(staging, bag, options)
            if record is not None or reason is not None:
                scheduler.discard(bag)  # converted (or hopeless) before a kill: the raw bag can go
                prov = record["provenance"] if record else {}
                prov.setdefault("source_path", bag.path)  # a kill may fall between rename and _record
                scheduler.results.setdefault(task, {})[bag.order] = BagResult(
                    bag.order, bag.path, bag.key, "converted" if record else "skipped", reason or "",
                    frames=prov.get("frames", 0), family=record["family"] if record else "",
                    provenance=prov, reused=True,
                )  # fmt: skip
                on_event("reused", bag, scheduler.results[task][bag.order])
            else:
                todo.append(bag)
    _clean_partials(raw_dir)

    def finish_task(task: str) -> None:
        results = scheduler.results.get(task, {})
        ordered = [results[i] for i in sorted(results)]
        task_summary = ConvertSummary(
            out=out_root / task, repo_id=repo_ids[task], results=ordered, shard=cfg.shard
        )
        failed = [p for p, _ in summary.failed if any(b.path == p for b in by_task[task])]
        summary.tasks[task] = task_summary
        if failed or not task_summary.converted:
            task_summary.staging = stagings[task]
            return

        exclude_other_family(task_summary.results)
        for r in task_summary.skipped:  # the provenance names hub bags by their repo path
            r.provenance.setdefault("source_path", r.path)
        t0, c0 = time.perf_counter(), time.process_time()
        merge_episodes(task_summary, cfg, stagings[task])
        task_summary.merge_seconds = time.perf_counter() - t0
        if profile:  # the merge's CPU here includes the download threads running meanwhile
            fresh = [r.profile for r in task_summary.results if r.profile]
            task_summary.profile = merge_profiles(fresh, time.process_time() - c0)
        task_summary.written = True
        on_event("merged", task, task_summary)

    for task in stagings:  # tasks with nothing left to fetch (all converted before a kill)
        if not any(b.task == task for b in todo):
            finish_task(task)
    scheduler.run(todo, stagings, repo_ids, finish_task)
    summary.seconds = time.perf_counter() - start
    if not source.request.local_dir and raw_dir.exists() and not summary.failed:
        shutil.rmtree(raw_dir, ignore_errors=True)
    return summary


def _clean_partials(raw_dir: Path) -> None:
    """Partial downloads of a killed run: uncounted disk use, so they go (those bags are fetched again)."""
    cache = raw_dir / ".cache" / "huggingface" / "download"
    if cache.is_dir():
        for partial in cache.rglob("*.incomplete"):
            partial.unlink(missing_ok=True)
