"""The event loop of `kuavo convert --hub`: downloads in threads, conversions in workers, under a disk cap.

A bag is admitted for download only while the bags already admitted (downloading, waiting for a
worker, being converted) plus this one fit in `max_disk`; it is released when its conversion is done
and the file deleted. So the raw data on disk never exceeds the cap, whatever the speeds.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kuavo_cli.convert.pipeline import encoder_threads
from kuavo_cli.convert.worker import BagJob, BagResult, convert_bag, warm_up
from kuavo_cli.errors import KuavoError
from kuavo_cli.utils.atomic import write_text

if TYPE_CHECKING:
    from kuavo_cli.hub.listing import RemoteFile

SKIPPED_DIR = "skipped"  # staging/skipped/<key>.json: bags that could not be converted, with the reason
# What a download leaves beside the bag: huggingface_hub's <path>.metadata (commit, etag, time: ~150 bytes) and
# <path>.lock under .cache/huggingface/download. The cap counts everything in the raw folder, so each bag
# reserves this much on top of its size (a file-system block).
BOOKKEEPING_BYTES = 4096


@dataclass
class RemoteBag:
    remote: RemoteFile
    task: str  # output dataset name (the task folder)
    order: int  # position within its task (episode order)
    key: str
    identity: dict

    @property
    def path(self) -> str:
        return self.remote.path

    @property
    def size(self) -> int:
        return self.remote.size

    @property
    def reserved(self) -> int:
        """Bytes the bag holds against the cap while admitted: the file and huggingface_hub's bookkeeping."""
        return self.remote.size + BOOKKEEPING_BYTES


def _raw_bytes(raw_dir: Path) -> int:
    """Bytes of files under the raw-bag folder, partial downloads included. Counted by inode: a download that
    huggingface_hub renames from .cache/ into place while the walk runs is met in both folders."""
    sizes: dict[tuple[int, int], int] = {}
    for root, _dirs, files in os.walk(raw_dir):
        for name in files:
            with contextlib.suppress(OSError):  # renamed or deleted meanwhile
                stat = os.stat(os.path.join(root, name))
                sizes[stat.st_dev, stat.st_ino] = stat.st_size
    return sum(sizes.values())


class Scheduler:
    """Downloads in threads, conversions in worker processes (a thread with one worker), one loop."""

    def __init__(self, source, cfg, settings, listing, raw_dir, summary, on_event, profile):
        self.source, self.cfg, self.settings, self.listing = source, cfg, settings, listing
        self.raw_dir, self.summary, self.on_event, self.profile = raw_dir, summary, on_event, profile
        self.held = 0  # bytes admitted: downloading, waiting or converting
        self.results: dict[str, dict[int, BagResult]] = {}

    def local_path(self, bag: RemoteBag) -> Path:
        return self.raw_dir / bag.path

    def fetch(self, bag: RemoteBag) -> Path:
        from kuavo_cli.hub.fetch import verify_file
        from kuavo_cli.hub.transfer import hf_download, silent_bar

        path = hf_download(self.listing, self.settings, bag.path, self.raw_dir, None, bar=silent_bar)
        problem = verify_file(path, bag.remote, hashes=self.source.verify)
        if problem:
            self.discard(bag)
            raise KuavoError(f"{bag.path}: {problem}")
        return path

    def _complete_on_disk(self, bag: RemoteBag) -> bool:
        path = self.local_path(bag)
        return path.is_file() and path.stat().st_size == bag.size

    def _drop_leftovers(self, todo: list[RemoteBag]) -> None:
        """Delete what a killed run left in the raw folder that this run will not convert: partial downloads
        (a bag cut off mid-transfer is fetched again) and this repo's bags that are already converted
        (killed between staging and deleting) or not selected. Only bags of `todo` are counted against the
        cap, so those would sit beside a full cap of new downloads. Files that are not this repo's bags
        (a user's own, in a --local-dir) are left alone."""
        for partial in (self.raw_dir / ".cache").rglob("*.incomplete"):
            partial.unlink(missing_ok=True)
        wanted = {bag.path for bag in todo}
        for remote in self.listing.files:
            if remote.is_bag and remote.path not in wanted:
                self._delete(remote.path)

    def discard(self, bag: RemoteBag) -> None:
        self._delete(bag.path)

    def _delete(self, repo_path: str) -> None:
        """The local copy of a repo file and huggingface_hub's bookkeeping beside it."""
        (self.raw_dir / repo_path).unlink(missing_ok=True)
        bookkeeping = self.raw_dir / ".cache" / "huggingface" / "download"
        for suffix in (".metadata", ".lock"):
            (bookkeeping / f"{repo_path}{suffix}").unlink(missing_ok=True)

    def peak(self) -> None:
        self.summary.raw_peak_bytes = max(self.summary.raw_peak_bytes, _raw_bytes(self.raw_dir))

    def run(
        self, todo: list[RemoteBag], stagings: dict[str, Path], repo_ids: dict[str, str], done_task
    ) -> None:
        from kuavo_cli.hub.errors import is_network_error, translate

        if not todo:
            return
        workers = self.cfg.worker_count(len(todo))
        if workers == 1:
            converter = ThreadPoolExecutor(1, thread_name_prefix="kuavo-convert")
            warm_up()
        else:  # spawn: see pipeline._run_jobs; workers die with this process (kill -9 included)
            ctx = multiprocessing.get_context("spawn")
            converter = ProcessPoolExecutor(
                workers, mp_context=ctx, initializer=warm_up, initargs=(os.getpid(),)
            )
        downloader = ThreadPoolExecutor(max(1, self.source.download_workers), thread_name_prefix="kuavo-dl")
        threads = encoder_threads(self.cfg, workers)
        # Leftovers of a killed run sit on disk before anything is admitted: complete bags of `todo` go first,
        # so the cap counts them from the start; everything else is deleted.
        self._drop_leftovers(todo)
        queue = sorted(todo, key=lambda bag: not self._complete_on_disk(bag))
        ready: list[RemoteBag] = []  # downloaded, waiting for a worker
        running: dict[Future, tuple[str, RemoteBag]] = {}
        converting = 0
        remaining = {t: sum(1 for b in todo if b.task == t) for t in stagings}
        fatal: BaseException | None = None
        try:
            while queue or ready or running:
                # Admit downloads while they fit under the cap (and not too far ahead of the workers).
                downloading = sum(1 for kind, _ in running.values() if kind == "fetch")
                while (
                    fatal is None
                    and queue
                    and downloading < self.source.download_workers
                    and len(ready) + downloading < workers + self.source.download_workers
                    and self.held + queue[0].reserved <= self.source.max_disk
                ):
                    bag = queue.pop(0)
                    self.held += bag.reserved
                    if self._complete_on_disk(bag):
                        self.summary.reused_downloads += 1  # complete from a killed run: not fetched again
                        ready.append(bag)
                        continue
                    running[downloader.submit(self.fetch, bag)] = ("fetch", bag)
                    downloading += 1
                while ready and converting < workers and fatal is None:
                    bag = ready.pop(0)
                    job = BagJob(
                        bag.order, str(self.local_path(bag)), bag.key, str(stagings[bag.task]),
                        repo_ids[bag.task], self.cfg.model_dump(), threads, profile=self.profile,
                        identity=bag.identity,
                    )  # fmt: skip
                    running[converter.submit(convert_bag, job)] = ("convert", bag)
                    converting += 1
                if not running:
                    if fatal is not None or not (queue or ready):
                        break
                    continue
                finished, _ = wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
                self.peak()
                for future in finished:
                    kind, bag = running.pop(future)
                    if kind == "fetch":
                        err = future.exception()
                        if err is None:
                            self.summary.fetched += 1
                            self.summary.bytes_fetched += bag.size
                            ready.append(bag)
                            self.on_event("fetched", bag, None)
                            continue
                        self.held -= bag.reserved
                        self.discard(bag)
                        if is_network_error(err) or "Offline" in type(err).__name__:
                            fatal = translate(err, self.listing.repo_id, "dataset", self.settings, None)
                        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
                        self.summary.failed.append((bag.path, reason))
                        remaining[bag.task] -= 1
                        self.on_event("failed", bag, None)
                        continue
                    converting -= 1
                    result: BagResult = future.result()
                    self._record(bag, result, stagings[bag.task])
                    self.discard(bag)
                    self.held -= bag.reserved
                    self.on_event("converted" if result.status == "converted" else "skipped", bag, result)
                    remaining[bag.task] -= 1
                    if remaining[bag.task] == 0:
                        done_task(bag.task)
        finally:
            downloader.shutdown(wait=True, cancel_futures=True)
            converter.shutdown(wait=True, cancel_futures=True)
        if fatal is not None:
            raise fatal

    def _record(self, bag: RemoteBag, result: BagResult, staging: Path) -> None:
        result.path = bag.path  # the repo path, not the scratch file that is about to go
        if result.status == "converted":
            result.provenance["source_path"] = bag.path
            record_path = staging / "episodes" / bag.key / "episode.json"
            record = json.loads(record_path.read_text(encoding="utf-8"))
            record["provenance"]["source_path"] = bag.path
            write_text(record_path, json.dumps(record, indent=2))
        else:
            record = {"identity": bag.identity, "options": self.cfg.output_options(), "reason": result.reason}
            write_text(staging / SKIPPED_DIR / f"{bag.key}.json", json.dumps(record, indent=2))
        self.results.setdefault(bag.task, {})[bag.order] = result
