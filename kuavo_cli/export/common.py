"""What every export format shares: the result record, default output paths and atomic writes."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kuavo_cli.checkpoints import CheckpointRef
from kuavo_cli.errors import UsageError
from kuavo_cli.utils import atomic

FORMATS = ("lerobot", "kit", "onnx", "torchscript", "submission")
PROCESSOR_PREFIXES = ("policy_preprocessor", "policy_postprocessor")


@dataclass
class ExportResult:
    format: str
    out: Path
    files: list[str] = field(default_factory=list)  # relative to `out`
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "out": str(self.out),
            "files": self.files,
            **self.details,
            "notes": self.notes,
        }


def policy_config(ref: CheckpointRef) -> dict[str, Any]:
    """config.json as plain JSON (no lerobot import needed to read the policy type and features)."""
    try:
        return json.loads((ref.pretrained_dir / "config.json").read_text())
    except json.JSONDecodeError as err:
        raise UsageError(f"{ref.pretrained_dir / 'config.json'} is not valid JSON: {err}") from err


def policy_type(ref: CheckpointRef) -> str:
    kind = policy_config(ref).get("type")
    if not isinstance(kind, str):
        raise UsageError(f"{ref.pretrained_dir / 'config.json'} has no policy `type`")
    return kind


def default_out(ref: CheckpointRef, fmt: str) -> Path:
    """<run>/exports/<format> when the checkpoint sits in a run, else exports/<format> beside the checkpoint."""
    base = ref.run_dir if ref.run_dir is not None else ref.pretrained_dir.parent
    return base / "exports" / fmt


def check_out(out: Path, force: bool) -> None:
    """Fail early (before any heavy work) when the output exists and --force was not given."""
    if out.exists() and not force:
        raise UsageError(f"{out} already exists", "pass --force to replace it, or choose another --out")
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder", "choose another --out")


@contextlib.contextmanager
def staged_dir(out: Path, force: bool) -> Iterator[Path]:
    """Build the output in a hidden folder beside `out`, then swap it in; on any error nothing is left."""
    check_out(out, force)
    with atomic.staged_dir(out) as stage:
        yield stage


def list_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def processor_files(pretrained: Path) -> list[Path]:
    """The pre/post processor pipelines and every state file they reference."""
    files: list[Path] = []
    for prefix in PROCESSOR_PREFIXES:
        cfg_path = pretrained / f"{prefix}.json"
        if not cfg_path.exists():
            raise UsageError(
                f"{pretrained} has no {cfg_path.name}",
                "checkpoints from lerobot >= 0.4 carry their processors; re-save with a recent lerobot",
            )
        files.append(cfg_path)
        for step in json.loads(cfg_path.read_text()).get("steps", []):
            state = step.get("state_file")
            if state:
                if not (pretrained / state).exists():
                    raise UsageError(f"{cfg_path} refers to missing {state}", "the checkpoint is incomplete")
                files.append(pretrained / state)
    return files


def weight_files(pretrained: Path) -> list[Path]:
    """model.safetensors, or a PEFT adapter with its config (never pickle files)."""
    if (pretrained / "model.safetensors").exists():
        return [pretrained / "model.safetensors"]
    adapter = [pretrained / "adapter_model.safetensors", pretrained / "adapter_config.json"]
    return [p for p in adapter if p.exists()]


def set_processor_device(pretrained_dir: Path, device: str) -> None:
    """Rewrite the device the processors move tensors to (the kit loads them without overrides)."""
    for prefix in PROCESSOR_PREFIXES:
        path = pretrained_dir / f"{prefix}.json"
        data = json.loads(path.read_text())
        for step in data.get("steps", []):
            if step.get("registry_name") == "device_processor":
                step.setdefault("config", {})["device"] = device
        path.write_text(json.dumps(data, indent=2) + "\n")


def source_paths(ref: CheckpointRef) -> list[str]:
    """The checkpoint's own absolute location: it must not appear in anything we publish."""
    paths = [str(ref.pretrained_dir.resolve())]
    if ref.run_dir is not None:
        paths.append(str(ref.run_dir.resolve()))
    return paths
