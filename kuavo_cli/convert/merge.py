"""`kuavo convert --merge A B ... --out M`: converted datasets (shards) -> one, with lerobot's aggregation.

The shards are checked first, so a bad merge fails before anything is written: each must be a
LeRobot v3.0 dataset, all converted with the same output options (their provenance says so), and
no bag may appear in two of them (a bag converted twice would be two identical episodes). lerobot's
`aggregate_datasets` then writes the merged dataset into a temp folder beside `out`, which is renamed
to `out` only when complete. The provenance files are concatenated in the same order.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kuavo_cli import __version__
from kuavo_cli.errors import KuavoError, UsageError

PROVENANCE_FILE = "meta/kuavo_provenance.json"
PROVENANCE_FORMAT = "kuavo-convert-provenance/1"


@dataclass
class MergeSummary:
    out: Path
    inputs: list[Path]
    episodes: list[int] = field(default_factory=list)  # per input
    frames: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "out": str(self.out),
            "inputs": [
                {"dataset": str(p), "episodes": e, "frames": f}
                for p, e, f in zip(self.inputs, self.episodes, self.frames, strict=True)
            ],
            "episodes": sum(self.episodes),
            "frames": sum(self.frames),
            "seconds": round(self.seconds, 2),
        }


def read_provenance(root: Path) -> dict | None:
    try:
        return json.loads((root / PROVENANCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def aggregate_into(roots: list[Path], repo_id: str, dest: Path) -> None:
    """lerobot's own `aggregate_datasets`, quietly, into `dest` (which must not exist)."""
    from kuavo_cli.convert.worker import quiet_video_and_bars
    from kuavo_cli.utils.logs import quiet_logs

    quiet_video_and_bars()
    # aggregate_datasets draws tqdm bars on stderr; TQDM_DISABLE cannot help once tqdm is imported.
    with quiet_logs(), contextlib.redirect_stderr(io.StringIO()):
        from lerobot.datasets.aggregate import aggregate_datasets

        aggregate_datasets(repo_ids=[repo_id] * len(roots), aggr_repo_id=repo_id, roots=roots, aggr_root=dest)


def replace_atomically(built: Path, out: Path, scratch: Path) -> None:
    """Move the finished folder `built` to `out`; an existing `out` (with --force) goes last."""
    if out.exists():
        old = scratch / "replaced"
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    out.parent.mkdir(parents=True, exist_ok=True)
    built.rename(out)


def _check_inputs(inputs: list[Path]) -> list[tuple[dict, dict]]:
    """(info.json, provenance) per input, or one UsageError naming the input and the problem."""
    loaded = []
    seen: dict[str, Path] = {}
    for root in inputs:
        info_path = root / "meta" / "info.json"
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise UsageError(
                f"{root} is not a LeRobot dataset (no readable {info_path.relative_to(root)})",
                "pass the --out folders of `kuavo convert` runs",
            ) from None
        if info.get("codebase_version") != "v3.0":
            raise UsageError(f"{root}: LeRobot {info.get('codebase_version')}, only v3.0 can be merged")
        prov = read_provenance(root) or {}
        for ep in prov.get("episodes", []):
            bag = ep.get("source_bag")
            if bag in seen:
                raise UsageError(
                    f"bag {bag} is in both {seen[bag]} and {root}",
                    "each bag must be converted once: use --shard I/N with the same N on every machine",
                )
            seen[bag] = root
        loaded.append((info, prov))
    options = [(root, prov.get("options")) for root, (_i, prov) in zip(inputs, loaded, strict=True)]
    first_root, first = options[0]
    for root, opts in options[1:]:
        if first is not None and opts is not None and opts != first:
            diff = sorted(k for k in set(first) | set(opts) if first.get(k) != opts.get(k))
            raise UsageError(
                f"{root} was converted with other options than {first_root}: {', '.join(diff)}",
                "convert every shard with the same options (a shared --config file helps)",
            )
    return loaded


def merge_datasets(
    inputs: list[Path], out: Path, force: bool = False, repo_id: str | None = None
) -> MergeSummary:
    start = time.perf_counter()
    if len(inputs) < 2:
        raise UsageError("--merge needs at least two datasets", "kuavo convert --merge A B ... --out M")
    inputs = [Path(p).absolute() for p in inputs]
    out = Path(out).absolute()
    if len(set(inputs)) != len(inputs):
        raise UsageError("the same dataset is given twice to --merge")
    if out in inputs:
        raise UsageError(f"--out {out} is one of the inputs", "merge into a new folder")
    if out.exists() and not force:
        raise UsageError(f"{out} already exists", "pass --force to replace it, or choose another --out")
    loaded = _check_inputs(inputs)
    scratch = out.parent / f".{out.name}.kuavo-merge"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    built = scratch / "merged"
    repo_id = repo_id or f"lerobot/{out.name}"
    try:
        aggregate_into(inputs, repo_id, built)
    except ValueError as err:  # lerobot's validation: fps, robot_type or features differ
        shutil.rmtree(scratch, ignore_errors=True)
        raise UsageError(f"the datasets cannot be merged: {err}") from None
    except Exception as err:
        shutil.rmtree(scratch, ignore_errors=True)
        raise KuavoError(f"merge failed: {type(err).__name__}: {err}") from err
    episodes, skipped, options = [], [], None
    for _info, prov in loaded:
        options = options or prov.get("options")
        episodes += prov.get("episodes", [])
        skipped += prov.get("skipped", [])
    record = {
        "format": PROVENANCE_FORMAT,
        "kuavo_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "options": options,
        "merged_from": [str(p) for p in inputs],
        "episodes": [{**ep, "episode_index": i} for i, ep in enumerate(episodes)],
        "skipped": skipped,
    }
    (built / PROVENANCE_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    replace_atomically(built, out, scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    summary = MergeSummary(out=out, inputs=inputs)
    for info, _prov in loaded:
        summary.episodes.append(int(info.get("total_episodes", 0)))
        summary.frames.append(int(info.get("total_frames", 0)))
    summary.seconds = time.perf_counter() - start
    return summary
