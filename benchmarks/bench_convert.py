#!/usr/bin/env python
"""`kuavo convert` now vs the converter of an earlier commit, in the same run, on the same bags.

The earlier commit's `kuavo_cli/convert` is extracted with `git archive` into a temp package
(`kuavo_base_convert`), and each implementation converts the same bags with one worker in a fresh
process, alternating (base, new, new, base, ...) so that load from other jobs hits both alike. The
outputs of both are then compared: frame counts and state/action values must be identical, and the
decoded video frames equal within the codec's error. Prints the medians and the ratio.

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_convert.py                       # 3 bags of 16 s, 640x480, 3 repeats
    .venv/bin/python benchmarks/bench_convert.py --vcodec h264         # kuavo's H.264 vs lerobot's AV1
    .venv/bin/python benchmarks/bench_convert.py --bags 4 --seconds 15 --repeats 5 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE_COMMIT = "7dd9c08"

# Runs in a fresh interpreter: convert the bags with one worker, print one JSON line.
RUNNER = r"""
import json, os, resource, sys, time
from pathlib import Path
pkg, out, size, extra, *bags = sys.argv[1:]
mod = __import__(pkg + ".pipeline", fromlist=["x"])
cfg_mod = __import__(pkg + ".config", fromlist=["x"])
worker = __import__(pkg + ".worker", fromlist=["x"])
worker.warm_up()  # lerobot's import is not part of the measured conversion
cfg = cfg_mod.ConvertConfig(workers=1, size=size, **json.loads(extra))
def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
load, c0, t0 = os.getloadavg()[0], cpu(), time.perf_counter()
summary = mod.convert_bags([Path(b) for b in bags], Path(out), cfg)
wall, used = time.perf_counter() - t0, cpu() - c0
print("RESULT " + json.dumps({"wall_s": wall, "cpu_s": used, "frames": summary.frames,
      "episodes": len(summary.converted), "load": load}))
"""


def extract_base(commit: str, dest: Path) -> Path:
    """`kuavo_cli/convert` of `commit` as the package `kuavo_base_convert` under `dest`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "kuavo_cli/convert"], check=True, capture_output=True
    ).stdout
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    pkg = dest / "kuavo_base_convert"
    (dest / "kuavo_cli" / "convert").rename(pkg)
    for path in pkg.glob("*.py"):
        path.write_text(path.read_text().replace("kuavo_cli.convert", "kuavo_base_convert"))
    return dest


def make_bags(folder: Path, count: int, seconds: float, size: tuple[int, int]) -> list[Path]:
    sys.path.insert(0, str(ROOT))
    from tests.rosbag_fixtures import BagSpec, write_bag

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"bench_{i:02d}.bag"
        if not path.exists():
            write_bag(path, BagSpec(seconds=seconds, size=size, texture=True))
        paths.append(path)
    return paths


def run_once(pkg: str, bags: list[Path], out: Path, size: str, pythonpath: str, extra: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": pythonpath, "SVT_LOG": "1", "TQDM_DISABLE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, pkg, str(out), size, json.dumps(extra), *map(str, bags)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"{pkg} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def compare_outputs(base: Path, new: Path) -> dict:
    """Frame counts and state/action values identical; decoded video frames within codec error."""
    import av
    import numpy as np
    import pandas as pd

    def table(root: Path):
        df = pd.concat(pd.read_parquet(p) for p in sorted((root / "data").rglob("*.parquet")))
        return df.sort_values("index").reset_index(drop=True)

    a, b = table(base), table(new)
    frames_equal = (
        a["episode_index"].value_counts().sort_index().equals(b["episode_index"].value_counts().sort_index())
    )
    values_equal = all(
        np.array_equal(np.stack(a[k].to_numpy()), np.stack(b[k].to_numpy()))
        for k in ("observation.state", "action")
    )
    worst = 0.0
    videos = sorted(p.relative_to(base) for p in (base / "videos").rglob("*.mp4"))
    for rel in videos:
        with av.open(str(base / rel)) as ca, av.open(str(new / rel)) as cb:
            fa = [f.to_ndarray(format="rgb24").astype(np.int16) for f in ca.decode(video=0)]
            fb = [f.to_ndarray(format="rgb24").astype(np.int16) for f in cb.decode(video=0)]
        if len(fa) != len(fb):
            return {"frames_equal": False, "values_equal": values_equal, "video_mean_abs_diff_max": None}
        for x, y in zip(fa, fb, strict=True):
            worst = max(worst, float(np.abs(x - y).mean()))

    def video_bytes(root: Path) -> int:
        return sum(p.stat().st_size for p in (root / "videos").rglob("*.mp4"))

    return {
        "frames_equal": bool(frames_equal),
        "video_bytes_per_frame": {"base": video_bytes(base) // len(a), "new": video_bytes(new) // len(b)},
        "values_equal": bool(values_equal),
        "videos_compared": len(videos),
        "video_mean_abs_diff_max": round(worst, 3),
    }


def fidelity(ref: Path, out: Path) -> dict:
    """PSNR (dB) of every video of `out` against the same video of `ref`: colour and depth streams."""
    import av
    import numpy as np

    scores: dict[str, list[float]] = {"colour": [], "depth": []}
    for rel in sorted(p.relative_to(ref) for p in (ref / "videos").rglob("*.mp4")):
        with av.open(str(ref / rel)) as cr, av.open(str(out / rel)) as co:
            pairs = zip(cr.decode(video=0), co.decode(video=0), strict=True)
            mse = np.mean(
                [
                    np.mean(
                        (a.to_ndarray(format="rgb24") - b.to_ndarray(format="rgb24").astype(np.float64)) ** 2
                    )
                    for a, b in pairs
                ]
            )
        kind = "depth" if "depth" in str(rel) else "colour"
        scores[kind].append(10 * np.log10(255**2 / max(mse, 1e-12)))
    return {k: round(float(min(v)), 2) for k, v in scores.items() if v}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bags", type=int, default=3, help="number of bags")
    ap.add_argument(
        "--seconds",
        type=float,
        default=16.0,
        help="length of each bag (16 s: ~150 frames, as the real bags: ~160k frames in ~1,000 bags a task)",
    )
    ap.add_argument("--size", default="640x480", help="source image size WxH (also the stored size)")
    ap.add_argument("--out-size", default=None, help="stored size (default: the source size)")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each implementation (interleaved)")
    ap.add_argument("--base", default=BASE_COMMIT, help="commit to compare with")
    ap.add_argument("--bag-dir", type=Path, default=None, help="reuse/keep the generated bags here")
    ap.add_argument(
        "--vcodec",
        default=None,
        help="codec for this tree only (e.g. h264): compares a codec choice, so frames are only close",
    )
    ap.add_argument("--preset", default=None, help="encoder preset for this tree only (with --vcodec)")
    ap.add_argument("--crf", type=int, default=None, help="quality for this tree only (with --vcodec)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from kuavo_cli.utils.image_size import parse_wxh

    try:
        h, w = parse_wxh(args.size)
    except ValueError as err:
        ap.error(f"--size {err}")
    out_size = args.out_size or f"{w}x{h}"

    with tempfile.TemporaryDirectory(prefix="kuavo-bench-convert-") as tmp:
        work = Path(tmp)
        bags = make_bags(args.bag_dir or work / "bags", args.bags, args.seconds, (w, h))
        base_root = extract_base(args.base, work / "base")
        pythonpath = os.pathsep.join([str(ROOT), str(base_root)])
        runs: dict[str, list[dict]] = {"base": [], "new": []}
        new_options = {
            k: v
            for k, v in (("vcodec", args.vcodec), ("preset", args.preset), ("crf", args.crf))
            if v is not None
        }
        pkgs = {"base": "kuavo_base_convert", "new": "kuavo_cli.convert"}
        for r in range(args.repeats):
            order = ("base", "new") if r % 2 == 0 else ("new", "base")
            for name in order:
                out = work / f"out_{name}_{r}"
                extra = new_options if name == "new" else {}
                runs[name].append(run_once(pkgs[name], bags, out, out_size, pythonpath, extra))
                print(f"repeat {r + 1} {name}: {runs[name][-1]}", file=sys.stderr)
        last = args.repeats - 1
        check = compare_outputs(work / f"out_base_{last}", work / f"out_new_{last}")
        if new_options:
            # A codec choice changes the bytes, so the question is whether it loses more than lerobot's
            # AV1 does: both are scored against a lossless conversion (x264 qp 0, same 4:2:0 chroma).
            ref = work / "out_lossless"
            lossless = {"vcodec": "h264", "crf": 0, "preset": "ultrafast"}
            run_once(pkgs["new"], bags, ref, out_size, pythonpath, lossless)
            check["psnr_vs_lossless"] = {
                "base": fidelity(ref, work / f"out_base_{last}"),
                "new": fidelity(ref, work / f"out_new_{last}"),
            }

    def med(name: str, key: str) -> float:
        return statistics.median(x[key] for x in runs[name])

    frames = runs["new"][0]["frames"]
    result = {
        "base_commit": args.base,
        "bags": args.bags,
        "frames": frames,
        "source_size": args.size,
        "stored_size": out_size,
        "repeats": args.repeats,
        "new_options": new_options,
        "base": {"wall_s": round(med("base", "wall_s"), 2), "cpu_s": round(med("base", "cpu_s"), 2)},
        "new": {"wall_s": round(med("new", "wall_s"), 2), "cpu_s": round(med("new", "cpu_s"), 2)},
        "load_avg": [round(x["load"], 2) for name in runs for x in runs[name]],
        "check": check,
    }
    for name in ("base", "new"):
        result[name]["frames_per_s"] = round(frames / result[name]["wall_s"], 2)
        result[name]["cpu_s_per_frame"] = round(result[name]["cpu_s"] / frames, 4)
    result["ratio_frames_per_s"] = round(result["new"]["frames_per_s"] / result["base"]["frames_per_s"], 2)
    result["ratio_cpu"] = round(result["base"]["cpu_s"] / result["new"]["cpu_s"], 2)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{frames} frames ({args.bags} bags, {args.size} -> {out_size}), 1 worker, "
            f"median of {args.repeats} interleaved runs"
        )
        for name in ("base", "new"):
            x = result[name]
            label = f"base {args.base}" if name == "base" else "this tree"
            print(
                f"  {label:14s} {x['frames_per_s']:6.2f} frames/s  {x['wall_s']:6.2f} s wall  "
                f"{x['cpu_s']:6.2f} CPU-s ({x['cpu_s_per_frame'] * 1000:.0f} ms/frame)"
            )
        print(f"  ratio: {result['ratio_frames_per_s']}x frames/s, {result['ratio_cpu']}x less CPU")
        print(f"  output check: {check}")
        print(f"  load average during the runs: {result['load_avg']}")
    if not (check["frames_equal"] and check["values_equal"]):
        raise SystemExit("outputs differ: frame counts or state/action values are not identical")


if __name__ == "__main__":
    main()
