#!/usr/bin/env python
"""`kuavo convert` now vs the converter of an earlier commit, in the same run, on the same bags.

The earlier commit's `kuavo_cli/convert` is extracted with `git archive` into a temp package
(`kuavo_base_convert`), and the base (its AV1) and each variant of this tree convert the same bags with one
worker in fresh processes, in rotating order so that load from other jobs hits all alike. Variants:
`libsvtav1` (this tree's defaults: the output must be byte-identical) and `h264` (kuavo's H.264 settings).
The outputs are then compared: frame counts and state/action values must be identical (exit 1 otherwise),
decoded video frames are compared pixel by pixel, and a codec variant is scored in PSNR against a lossless
conversion, beside the base's score. Prints the medians and the ratios.

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_convert.py                       # both variants, 3 bags of 16 s, 640x480
    .venv/bin/python benchmarks/bench_convert.py --vcodec libsvtav1    # the same-output comparison only
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


def variant_options(vcodec: str, preset: str | None, crf: int | None) -> dict:
    """ConvertConfig options of one variant of this tree: libsvtav1 = the defaults (the same output as the
    base); another codec with kuavo's settings for it, or --preset / --crf when given."""
    if vcodec == "libsvtav1":
        return {}
    return {
        "vcodec": vcodec,
        **({"preset": preset} if preset else {}),
        **({"crf": crf} if crf is not None else {}),
    }


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
        default="h264,libsvtav1",
        help="this tree's variants, comma-separated (the base is always its AV1): libsvtav1 = the same "
        "output as the base; h264 = kuavo's H.264, a codec choice, so frames are only close",
    )
    ap.add_argument("--preset", default=None, help="encoder preset for the non-AV1 variants")
    ap.add_argument("--crf", type=int, default=None, help="quality for the non-AV1 variants")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from kuavo_cli.utils.image_size import parse_wxh

    try:
        h, w = parse_wxh(args.size)
    except ValueError as err:
        ap.error(f"--size {err}")
    out_size = args.out_size or f"{w}x{h}"
    variants = {c.strip(): variant_options(c.strip(), args.preset, args.crf) for c in args.vcodec.split(",")}
    names = ["base", *variants]

    with tempfile.TemporaryDirectory(prefix="kuavo-bench-convert-") as tmp:
        work = Path(tmp)
        bags = make_bags(args.bag_dir or work / "bags", args.bags, args.seconds, (w, h))
        base_root = extract_base(args.base, work / "base")
        pythonpath = os.pathsep.join([str(ROOT), str(base_root)])
        runs: dict[str, list[dict]] = {name: [] for name in names}
        for r in range(args.repeats):
            for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate: load hits all alike
                pkg = "kuavo_base_convert" if name == "base" else "kuavo_cli.convert"
                extra = {} if name == "base" else variants[name]
                runs[name].append(run_once(pkg, bags, work / f"out_{name}_{r}", out_size, pythonpath, extra))
                print(f"repeat {r + 1} {name}: {runs[name][-1]}", file=sys.stderr)
        last = args.repeats - 1
        checks = {v: compare_outputs(work / f"out_base_{last}", work / f"out_{v}_{last}") for v in variants}
        if any(variants.values()):
            # A codec choice changes the bytes, so the question is whether it loses more than lerobot's
            # AV1 does: both are scored against a lossless conversion (x264 qp 0, same 4:2:0 chroma).
            ref = work / "out_lossless"
            lossless = {"vcodec": "h264", "crf": 0, "preset": "ultrafast"}
            run_once("kuavo_cli.convert", bags, ref, out_size, pythonpath, lossless)
            base_score = fidelity(ref, work / f"out_base_{last}")
            for v, opts in variants.items():
                if opts:
                    checks[v]["psnr_vs_lossless"] = {
                        "base": base_score,
                        "new": fidelity(ref, work / f"out_{v}_{last}"),
                    }

    def summary(name: str) -> dict:
        frames = runs[name][0]["frames"]
        wall = statistics.median(x["wall_s"] for x in runs[name])
        cpu = statistics.median(x["cpu_s"] for x in runs[name])
        return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "frames_per_s": round(frames / wall, 2),
                "cpu_s_per_frame": round(cpu / frames, 4)}  # fmt: skip

    base = summary("base")
    result = {
        "base_commit": args.base,
        "bags": args.bags,
        "frames": runs["base"][0]["frames"],
        "source_size": args.size,
        "stored_size": out_size,
        "repeats": args.repeats,
        "base": base,
        "variants": {},
        "load_avg": [round(x["load"], 2) for name in runs for x in runs[name]],
    }
    for v, opts in variants.items():
        x = summary(v)
        x["options"] = opts
        x["ratio_frames_per_s"] = round(x["frames_per_s"] / base["frames_per_s"], 2)
        x["ratio_cpu"] = round(base["cpu_s"] / x["cpu_s"], 2)
        x["check"] = checks[v]
        result["variants"][v] = x
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{result['frames']} frames ({args.bags} bags, {args.size} -> {out_size}), 1 worker, "
            f"median of {args.repeats} interleaved runs"
        )
        rows = [(f"base {args.base} (AV1)", base)] + [
            (f"this tree, {v}", result["variants"][v]) for v in variants
        ]
        for label, x in rows:
            ratio = (
                f"  {x['ratio_frames_per_s']}x frames/s, {x['ratio_cpu']}x less CPU"
                if "ratio_cpu" in x
                else ""
            )
            print(
                f"  {label:26s} {x['frames_per_s']:6.2f} frames/s  {x['wall_s']:6.2f} s wall  "
                f"{x['cpu_s']:6.2f} CPU-s ({x['cpu_s_per_frame'] * 1000:.0f} ms/frame){ratio}"
            )
        for v in variants:
            print(f"  output check, {v}: {checks[v]}")
        print(f"  load average during the runs: {result['load_avg']}")
    if not all(c["frames_equal"] and c["values_equal"] for c in checks.values()):
        raise SystemExit("outputs differ: frame counts or state/action values are not identical")


if __name__ == "__main__":
    main()
