"""The per-bag worker: bag -> a one-episode LeRobot dataset in the staging area, or a skip reason.

Runs in a worker process (or in-process with one worker). Its output folder appears atomically
(written under staging/tmp, then renamed into staging/episodes), so `--resume` can trust any
episode folder it finds.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kuavo_cli.convert.bagio import Bag, SkipBag
from kuavo_cli.convert.config import ConvertConfig
from kuavo_cli.convert.episode import iter_frames, plan_episode, provenance
from kuavo_cli.convert.features import action_family, build_features
from kuavo_cli.convert.profile import Profile
from kuavo_cli.data.schema import ROBOT_TYPE
from kuavo_cli.utils import atomic
from kuavo_cli.utils.logs import quiet_logs

EPISODE_RECORD = "episode.json"


@dataclass
class BagJob:
    order: int  # position of the bag in the run (= episode order before skips)
    path: str
    key: str  # folder name under staging/episodes
    staging: str
    repo_id: str
    config: dict
    encoder_threads: int | None = None
    profile: bool = False
    decode_threads: int = 2
    # What identifies the source for --resume (default: the file's size and mtime; hub bags: their hash).
    identity: dict | None = None


@dataclass
class BagResult:
    order: int
    path: str
    key: str
    status: str  # converted | skipped
    reason: str = ""
    frames: int = 0
    family: str = ""  # action-name family of the episode: claw (claw + rq2f85) or dexhand
    provenance: dict = field(default_factory=dict)
    seconds: float = 0.0
    peak_rss_mb: float = 0.0  # peak resident memory of the worker while converting this bag
    start_rss_mb: float = 0.0  # resident memory before it (lerobot + torch imports: ~1 GB, mostly shared)
    reused: bool = False
    profile: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def source_stat(path: Path) -> dict:
    st = path.stat()
    return {"name": path.name, "path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def reset_peak_rss() -> None:
    """Start a new peak-memory window (Linux: writing 5 to clear_refs resets VmHWM), so the peak
    reported for a bag is that bag's, not the import's or an earlier bag's."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _proc_status_mb(field: str) -> float | None:
    """A memory line of /proc/self/status (VmRSS, VmHWM) in MB; None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def current_rss_mb() -> float:
    return _proc_status_mb("VmRSS") or 0.0


def peak_rss_mb() -> float:
    """Peak resident memory (MB) since `reset_peak_rss`, else since the process started."""
    peak = _proc_status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB


def quiet_video_and_bars() -> None:
    """Silence per-file chatter of the libraries under lerobot's writer (our own progress bar is enough):
    SVT-AV1's banner, libav's "Starting second pass" lines, and HF datasets' `Map` bars."""
    os.environ.setdefault("SVT_LOG", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is first imported (workers: always)
    import av.logging
    import datasets

    av.logging.set_libav_level(av.logging.ERROR)
    datasets.disable_progress_bars()


def warm_up(parent_pid: int | None = None) -> None:
    """Worker-process initializer: pay lerobot's import (seconds, ~1 GB of mostly shared pages) once.

    With `parent_pid`, the worker also dies with its parent (Linux PR_SET_PDEATHSIG): a parent killed
    with SIGKILL cannot stop its pool, and an orphan finishing its bag later would race the re-run.
    """
    if parent_pid is not None:
        die_with_parent(parent_pid)
    quiet_video_and_bars()
    with quiet_logs():
        import lerobot.datasets  # noqa: F401


def die_with_parent(parent_pid: int) -> None:
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


ENCODER_QUEUE = 8  # frames waiting per camera for lerobot's encoder thread: bounds memory


def _encoder_queues(dataset) -> dict:
    """lerobot's per-camera frame queues of the streaming encoder (private; {} if its layout changed)."""
    encoder = getattr(getattr(dataset, "writer", None), "_streaming_encoder", None)
    return getattr(encoder, "_frame_queues", None) or {}


def _wait_for_encoder(dataset) -> None:
    """Block until every camera's queue has room. lerobot's `feed_frame` waits only 0.1 s for room and
    then drops the frame with a warning (made for live recording), which on a busy machine leaves
    videos shorter than the episode; a converter can always wait instead."""
    queues = _encoder_queues(dataset)
    while any(q.full() for q in queues.values()):
        time.sleep(0.002)


def _dropped_frames(dataset) -> int:
    encoder = getattr(getattr(dataset, "writer", None), "_streaming_encoder", None)
    return sum((getattr(encoder, "_dropped_frames", None) or {}).values())


def write_episode(
    bag: Bag,
    cfg: ConvertConfig,
    root: Path,
    repo_id: str,
    encoder_threads: int | None,
    profile: Profile | None = None,
    decode_threads: int = 2,
) -> dict:
    """Stream the bag's frames into a fresh one-episode dataset at `root`; returns the provenance."""
    profile = profile or Profile(enabled=False)
    with profile.stage("bag_read"):
        plan = plan_episode(bag, cfg)
    quiet_video_and_bars()
    with quiet_logs():
        from lerobot.datasets import LeRobotDataset

        with profile.stage("create_finalize"):
            dataset = LeRobotDataset.create(
                repo_id=repo_id,
                fps=cfg.fps,
                features=build_features(cfg, action_family(plan.gripper.family)),
                root=root,
                robot_type=ROBOT_TYPE,
                use_videos=True,
                rgb_encoder=cfg.encoder_config(),
                encoder_threads=encoder_threads,
                streaming_encoding=cfg.streaming_encoding,
                encoder_queue_maxsize=ENCODER_QUEUE,
            )
        try:
            for frame in iter_frames(bag, plan, cfg, profile, decode_threads):
                with profile.stage("encoder_wait"):
                    _wait_for_encoder(dataset)
                with profile.stage("add_frame"):
                    dataset.add_frame(frame)
            with profile.stage("save_episode"):
                # Workers are already one process per bag: encode the cameras one after the other.
                dataset.save_episode(parallel_encoding=False)
            dropped = _dropped_frames(dataset)
            if dropped:
                raise RuntimeError(f"lerobot's video encoder dropped {dropped} frame(s); convert it again")
        finally:
            with profile.stage("create_finalize"):
                dataset.finalize()  # writes the parquet footers; lerobot requires it
    shutil.rmtree(root / "images", ignore_errors=True)  # PNG staging, empty once encoded
    return provenance(bag, plan, cfg)


def convert_bag(job: BagJob) -> BagResult:
    """Worker entry point: never raises for a bad bag, it reports `skipped` with the reason."""
    start = time.perf_counter()
    reset_peak_rss()
    cfg = ConvertConfig(**job.config)
    path = Path(job.path)
    staging = Path(job.staging)
    tmp = staging / "tmp" / f"{job.key}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    result = BagResult(
        order=job.order, path=job.path, key=job.key, status="skipped", start_rss_mb=current_rss_mb()
    )
    profile = Profile(enabled=job.profile)
    profile.start()
    try:
        with Bag(path) as bag:
            prov = write_episode(
                bag, cfg, tmp / "dataset", job.repo_id, job.encoder_threads, profile, job.decode_threads
            )
        family = action_family(prov["gripper"])
        record = {
            "source": source_stat(path),
            "identity": job.identity or local_identity(path),
            "options": cfg.output_options(),
            "family": family,
            "provenance": prov,
        }
        (tmp / EPISODE_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
        final = staging / "episodes" / job.key
        final.parent.mkdir(parents=True, exist_ok=True)
        atomic.replace_dir(tmp, final)  # a rerun finds the old episode or the complete new one
        result.status, result.frames, result.family, result.provenance = (
            "converted",
            prov["frames"],
            family,
            prov,
        )
    except SkipBag as err:
        result.reason = str(err)
    except Exception as err:  # an unforeseen failure on one bag must not stop the others
        result.reason = f"unexpected {type(err).__name__}: {err}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    profile.stop()
    if job.profile:
        result.profile = profile.to_dict()
    result.seconds = time.perf_counter() - start
    result.peak_rss_mb = peak_rss_mb()
    return result


def local_identity(path: Path) -> dict:
    st = Path(path).stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def load_staged(staging: Path, key: str, identity: dict, options: dict) -> dict | None:
    """The record of a finished episode of this bag, if staged with the same options from the same
    source (`identity`: a local file's size and mtime, or a hub file's path and hash)."""
    record_path = staging / "episodes" / key / EPISODE_RECORD
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("identity") != identity:
        return None
    if record.get("options") != options:
        return None
    return record
