"""The model card (README.md) of an exported policy: what it is, what it was trained on, how well it did."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml

from kuavo_cli.checkpoints import (
    BEST_FILE,
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    METRICS_FILE,
    TRAIN_CONFIG_JSON,
    CheckpointRef,
)
from kuavo_cli.export.scrub import redact_paths
from kuavo_cli.policies import KUAVO_POLICY_TYPES

VAL_KEYS = ("val_loss", "validation_loss", "val/loss", "eval_loss", "val/l1_loss")


def training_config(ref: CheckpointRef) -> tuple[str, Any] | None:
    """(source file name, parsed config): kuavo's train_config.yaml, else lerobot's train_config.json."""
    if ref.run_dir is not None and (ref.run_dir / CONFIG_FILE).exists():
        return CONFIG_FILE, yaml.safe_load((ref.run_dir / CONFIG_FILE).read_text())
    if (ref.pretrained_dir / TRAIN_CONFIG_JSON).exists():
        return TRAIN_CONFIG_JSON, json.loads((ref.pretrained_dir / TRAIN_CONFIG_JSON).read_text())
    return None


def dataset_repo_id(ref: CheckpointRef) -> str | None:
    found = training_config(ref)
    if found is None:
        return None
    dataset = (found[1] or {}).get("dataset") or {}
    repo_id = dataset.get("repo_id") if isinstance(dataset, dict) else None
    return repo_id if isinstance(repo_id, str) else None


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def validation_summary(ref: CheckpointRef) -> dict[str, Any]:
    """Best / last validation loss from <run>/checkpoints/best.json and <run>/metrics.jsonl, when recorded."""
    out: dict[str, Any] = {}
    if ref.run_dir is None:
        return out
    best_json = ref.run_dir / CHECKPOINTS_DIR / BEST_FILE
    if best_json.exists():
        try:
            best = json.loads(best_json.read_text())
            for key in (*VAL_KEYS, "step"):
                if _finite(best.get(key)):
                    out["best_" + key.replace("/", "_")] = best[key]
        except json.JSONDecodeError:
            pass
    metrics = ref.run_dir / METRICS_FILE
    if not metrics.exists():
        return out
    vals: list[tuple[int | None, float]] = []
    for line in metrics.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line being written while we read
        if not isinstance(rec, dict):
            continue
        if rec.get("split") in ("val", "validation") and _finite(rec.get("loss")):
            vals.append((rec.get("step"), float(rec["loss"])))  # kuavo train: {"split": "val", "loss": ...}
            continue
        for key in VAL_KEYS:
            if _finite(rec.get(key)):
                vals.append((rec.get("step"), float(rec[key])))
                break
    if vals:
        step, loss = min(vals, key=lambda sv: sv[1])
        out.setdefault("best_val_loss", loss)
        if step is not None:
            out.setdefault("best_step", step)
        out["last_val_loss"] = vals[-1][1]
        out["val_evaluations"] = len(vals)
    return out


def eval_metrics(ref: CheckpointRef) -> tuple[str, dict[str, Any]] | None:
    """Scalar metrics of a `kuavo eval` report.json under <run>/eval/: the one for this step, else the newest."""
    if ref.run_dir is None or not (ref.run_dir / "eval").is_dir():
        return None
    found = []
    for path in (ref.run_dir / "eval").rglob("report.json"):
        try:
            found.append((path, json.loads(path.read_text())))
        except (json.JSONDecodeError, OSError):
            continue
    if not found:
        return None

    def rank(item: tuple[Path, Any]) -> tuple[bool, float]:
        step = (item[1].get("checkpoint") or {}).get("step") if isinstance(item[1], dict) else None
        return step == ref.step, item[0].stat().st_mtime

    path, report = max(found, key=rank)
    flat: dict[str, Any] = {}
    if isinstance(report, dict) and isinstance(report.get("overall"), dict):
        # kuavo eval's report: the overall errors and the latency summary, not the per-joint tables
        step = (report.get("checkpoint") or {}).get("step")
        if _finite(step):
            flat["checkpoint step"] = step
        flat.update({k: v for k, v in report["overall"].items() if _finite(v)})
        latency = report.get("latency") or {}
        flat.update({f"latency {k}": v for k, v in latency.items() if _finite(v) and k.endswith("_ms")})
    else:

        def walk(prefix: str, obj: Any, depth: int) -> None:
            if isinstance(obj, dict) and depth < 3:
                for k, v in obj.items():
                    walk(f"{prefix}.{k}" if prefix else str(k), v, depth + 1)
            elif _finite(obj):
                flat[prefix] = obj

        walk("", report, 0)
    return str(path.relative_to(ref.run_dir)), flat


def build_model_card(ref: CheckpointRef, load_hint: str) -> str:
    cfg = json.loads((ref.pretrained_dir / "config.json").read_text())
    kind = cfg.get("type", "unknown")
    dataset = dataset_repo_id(ref)
    features = {k: v.get("shape") for k, v in (cfg.get("input_features") or {}).items()}
    outputs = {k: v.get("shape") for k, v in (cfg.get("output_features") or {}).items()}
    val = validation_summary(ref)
    evals = eval_metrics(ref)
    found = training_config(ref)

    front = {
        "library_name": "lerobot",
        "pipeline_tag": "robotics",
        "tags": ["lerobot", "robotics", kind, "kuavo"],
    }
    if dataset:
        front["datasets"] = [dataset]
    lines = ["---", yaml.safe_dump(front, sort_keys=False).rstrip(), "---", ""]
    lines += [f"# {kind.upper()} policy for the Leju Kuavo data challenge", ""]
    lines += ["| | |", "|---|---|", f"| Policy | `{kind}` (lerobot) |"]
    lines.append(f"| Dataset | `{dataset}` |" if dataset else "| Dataset | unknown |")
    lines.append(
        f"| Training steps | {ref.step} |" if ref.step is not None else "| Training steps | unknown |"
    )
    if "chunk_size" in cfg:
        lines.append(f"| Action chunk | {cfg['chunk_size']} (executes {cfg.get('n_action_steps')}) |")
    for key, value in val.items():
        lines.append(
            f"| {key.replace('_', ' ')} | {value:.6g} |" if _finite(value) else f"| {key} | {value} |"
        )
    lines += ["", "## Inputs and outputs", ""]
    lines += [f"- `{k}`: shape {v}" for k, v in features.items()]
    lines += [f"- `{k}` (output): shape {v}" for k, v in outputs.items()]
    lines += ["", "## Evaluation (`kuavo eval`)", ""]
    if evals is None:
        lines.append("No `kuavo eval` report was found for this run.")
    else:
        lines += [f"From `{evals[0]}`:", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.6g} |" for k, v in evals[1].items()]
    lines += ["", "## How to load", "", "```python", load_hint.strip(), "```", ""]
    lines += ["## Training config", ""]
    if found is None:
        lines.append("The training config was not saved with this checkpoint.")
    else:
        name, data = found
        lines.append(f"The exact `{name}` of the run (local absolute paths shown as `<local>/name`):")
        lines += ["", "```yaml" if name.endswith(".yaml") else "```json"]
        clean = redact_paths(data)
        if name.endswith(".yaml"):
            lines.append(yaml.safe_dump(clean, sort_keys=False).rstrip())
        else:
            lines.append(json.dumps(clean, indent=2))
        lines.append("```")
    lines += ["", "Exported with `kuavo export` (kuavo-cli).", ""]
    return "\n".join(lines)


def lerobot_load_hint(repo_or_path: str, kind: str) -> str:
    # lerobot finds kuavo's own policy types (kit_diffusion) only once kuavo has registered them
    register = (
        f"\nfrom kuavo_cli.policies import register  # pip install kuavo-cli: lerobot alone has no `{kind}`\n\n"
        "register()\n"
        if kind in KUAVO_POLICY_TYPES
        else ""
    )
    return f'''from lerobot.policies.factory import get_policy_class, make_pre_post_processors
{register}
policy = get_policy_class("{kind}").from_pretrained("{repo_or_path}")
preprocessor, postprocessor = make_pre_post_processors(policy.config, pretrained_path="{repo_or_path}")
action = postprocessor(policy.select_action(preprocessor(observation)))'''


def write_card(ref: CheckpointRef, dest: Path, load_hint: str) -> None:
    dest.write_text(build_model_card(ref, load_hint))
