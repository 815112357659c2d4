"""`--format lerobot`: a clean `pretrained_model` bundle with a model card, loadable by lerobot unchanged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from kuavo_cli.checkpoints import CheckpointRef
from kuavo_cli.export.common import (
    ExportResult,
    list_files,
    policy_type,
    processor_files,
    sha256,
    source_paths,
    staged_dir,
    weight_files,
)
from kuavo_cli.export.model_card import dataset_repo_id, lerobot_load_hint, write_card
from kuavo_cli.export.scrub import assert_clean, looks_like_local_path


def write_bundle(ref: CheckpointRef, dest: Path, load_path: str = ".") -> None:
    """config.json, weights, processors and README.md into `dest` (which exists and is empty)."""
    src = ref.pretrained_dir
    config = json.loads((src / "config.json").read_text())
    # A local fine-tuning origin is meaningless elsewhere and would leak a path; loading never reads it.
    if isinstance(config.get("pretrained_path"), str) and looks_like_local_path(config["pretrained_path"]):
        config["pretrained_path"] = None
        (dest / "config.json").write_text(json.dumps(config, indent=4) + "\n")
    else:
        shutil.copy2(src / "config.json", dest / "config.json")
    for path in [*weight_files(src), *processor_files(src)]:
        shutil.copy2(path, dest / path.name)
    write_card(ref, dest / "README.md", lerobot_load_hint(load_path, policy_type(ref)))


def export_lerobot(ref: CheckpointRef, out: Path, force: bool = False) -> ExportResult:
    with staged_dir(out, force) as stage:
        write_bundle(ref, stage)
        assert_clean(stage, extra_literals=source_paths(ref))
    weights = weight_files(out)
    return ExportResult(
        "lerobot",
        out,
        list_files(out),
        details={
            "policy_type": policy_type(ref),
            "step": ref.step,
            "dataset": dataset_repo_id(ref),
            "weights_sha256": sha256(weights[0]) if weights else None,
        },
    )
