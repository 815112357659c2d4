"""Inspect a training run (layout: kuavo_cli/checkpoints/layout.py) or one checkpoint folder, without loading weights."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

from kuavo_cli.checkpoints import (
    BEST_FILE,
    BEST_LINK,
    CHECKPOINTS_DIR,
    LAST_LINK,
    METRICS_FILE,
    MODEL_FILE,
    POLICY_CONFIG_FILE,
    PRETRAINED_DIR,
    resolve_checkpoint,
)
from kuavo_cli.errors import UsageError


def safetensors_params(path: Path) -> dict:
    """Parameter count and bytes from the safetensors header (8-byte length + JSON); no tensor is read."""
    try:
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            if length > 100 * 1024 * 1024:
                raise ValueError(f"header length {length} is implausible")
            header = json.loads(f.read(length))
    except (OSError, struct.error, ValueError, UnicodeDecodeError) as err:
        raise UsageError(
            f"{path} is not a readable safetensors file ({err})", "the checkpoint is truncated or corrupt"
        ) from err
    header.pop("__metadata__", None)
    params = sum(math.prod(t["shape"]) for t in header.values())
    dtypes = sorted({t["dtype"] for t in header.values()})
    return {"parameters": int(params), "tensors": len(header), "dtypes": dtypes, "bytes": path.stat().st_size}


def read_metrics(path: Path) -> tuple[list[dict], int]:
    """Valid JSON object lines of metrics.jsonl, and how many lines were skipped (e.g. a line cut by a crash)."""
    rows, skipped = [], 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            skipped += 1
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int | float):
            rows.append(row)
        else:
            skipped += 1
    return rows, skipped


def _curve(rows: list[dict], split: str) -> tuple[list[float], list[float]]:
    pts = sorted(
        (r["step"], float(r["loss"]))
        for r in rows
        if r.get("split") == split and isinstance(r.get("loss"), int | float)
    )
    return [p[0] for p in pts], [p[1] for p in pts]


def _step_dirs(run: Path) -> list[Path]:
    ckpts = run / CHECKPOINTS_DIR
    return (
        sorted((p for p in ckpts.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
        if ckpts.is_dir()
        else []
    )


def _link_step(run: Path, name: str) -> int | None:
    link = run / CHECKPOINTS_DIR / name
    try:
        return int(link.resolve().name) if link.exists() else None
    except ValueError:
        return None


def is_run_folder(path: Path) -> bool:
    return (
        (path / CHECKPOINTS_DIR).is_dir()
        or (path / METRICS_FILE).is_file()
        or (path / PRETRAINED_DIR).is_dir()
        or ((path / POLICY_CONFIG_FILE).is_file() and any(path.glob("*.safetensors")))
    )


def inspect_run(path: Path) -> tuple[dict, dict]:
    run = path if ((path / CHECKPOINTS_DIR).is_dir() or (path / METRICS_FILE).is_file()) else None
    ref = None
    if run is None or _step_dirs(run):
        ref = resolve_checkpoint(path)  # raises a one-line UsageError for incomplete checkpoints
        run = run or ref.run_dir
    policy: dict = {}
    if ref is not None:
        cfg_path = ref.pretrained_dir / POLICY_CONFIG_FILE
        try:
            cfg = json.loads(cfg_path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise UsageError(f"{cfg_path} is not valid JSON ({err})") from err
        weights = ref.pretrained_dir / MODEL_FILE
        policy = {
            "type": cfg.get("type"),
            "checkpoint": str(ref.pretrained_dir),
            "step": ref.step,
            "chunk_size": cfg.get("chunk_size"),
            "n_action_steps": cfg.get("n_action_steps"),
            "input_features": sorted((cfg.get("input_features") or {}).keys()),
            "output_features": sorted((cfg.get("output_features") or {}).keys()),
            **(safetensors_params(weights) if weights.is_file() else {"parameters": None}),
        }
    rows, skipped = (
        read_metrics(run / METRICS_FILE) if run is not None and (run / METRICS_FILE).is_file() else ([], 0)
    )
    train_x, train_y = _curve(rows, "train")
    val_x, val_y = _curve(rows, "val")
    best = None
    if val_y:
        i = min(range(len(val_y)), key=val_y.__getitem__)
        best = {"step": int(val_x[i]), "val_loss": val_y[i]}
    best_json = run / CHECKPOINTS_DIR / BEST_FILE if run is not None else None
    checks = []
    if skipped:
        checks.append(
            {
                "level": "warning",
                "code": "metrics_lines",
                "message": f"{skipped} lines of {METRICS_FILE} are not valid JSON records",
            }
        )
    if run is not None and not rows:
        checks.append({"level": "info", "code": "no_metrics", "message": f"no {METRICS_FILE} records yet"})
    steps = [int(p.name) for p in _step_dirs(run)] if run is not None else []
    report = {
        "kind": "run",
        "path": str(path),
        "run_dir": str(run) if run is not None else None,
        "policy": policy,
        "checkpoints": steps,
        "last_step": _link_step(run, LAST_LINK) if run is not None else None,
        "best_checkpoint_step": _link_step(run, BEST_LINK) if run is not None else None,
        "best_json": json.loads(best_json.read_text())
        if best_json is not None and best_json.is_file()
        else None,
        "steps": int(max([r["step"] for r in rows] + steps)) if (rows or steps) else 0,
        "best": best,
        "train": {"points": len(train_x), "last_loss": train_y[-1] if train_y else None},
        "val": {"points": len(val_x), "steps": val_x, "loss": val_y},
        "checks": checks,
        "outputs": {},
    }
    return report, {"train": (train_x, train_y), "val": (val_x, val_y)}


def render_run_png(report: dict, context: dict, out_dir: Path, name: str) -> dict:
    from kuavo_cli.inspect import plots

    curves = {"train loss": context["train"], "validation loss": context["val"]}
    if not any(x for x, _ in curves.values()):
        return {}
    best = report["best"]["step"] if report["best"] else None
    title = f"{name}: {report['policy'].get('type') or 'policy'} loss"
    return {"loss_png": str(plots.loss_curves(curves, title, out_dir / f"{name}_loss.png", best))}
