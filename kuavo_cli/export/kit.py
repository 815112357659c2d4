"""`--format kit`: the folder layout the official competition deploy code loads a policy from.

The kit (LejuRobotics/kuavo_data_challenge, `kuavo_deploy/src/eval/sim_auto_test.py`) loads
    weights:     outputs/train/<task>/<method>/<timestamp>/epoch<epoch>/{config.json, model.safetensors}
    processors:  make_pre_post_processors(None, "outputs/train/<task>/<method>/<timestamp>")  (the run dir)
with <task>/<method>/<timestamp>/<epoch> and `policy_type` taken from the `inference:` section of
configs/deploy/kuavo_env.yaml. It passes no device overrides, so the processors must already name the device the
graders run on (cuda). It runs lerobot 0.4.2 and its own policy wrappers: kit_contract.py says what they accept
and how config.json is rewritten for them; the weights and processors are copied byte for byte (0.4.2 loads
them as they are; tests/test_kit_lerobot042.py proves it and compares the actions).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from kuavo_cli.checkpoints import BEST_LINK, CHECKPOINTS_DIR, CheckpointRef
from kuavo_cli.errors import UsageError
from kuavo_cli.export.common import (
    ExportResult,
    list_files,
    policy_type,
    processor_files,
    set_processor_device,
    source_paths,
    staged_dir,
)
from kuavo_cli.export.kit_contract import (
    IN_PROCESS_INSTEAD,
    KIT_CONFIG_TYPES,
    KIT_LEROBOT_VERSION,
    KIT_POLICY_TYPE,
    NOT_IN_PROCESS,
    check_pipeline,
    kit_config,
)
from kuavo_cli.export.model_card import dataset_repo_id, write_card
from kuavo_cli.export.scrub import assert_clean

KIT_POLICY_TYPES = tuple(KIT_CONFIG_TYPES)  # what the kit's deploy code runs in its own process
# What a submission runs in-process (the kit's wrapper loads it; templates/submission/infer.py picks the wrapper
# by config type): everything the kit loads in-process.
SUBMISSION_IN_PROCESS_TYPES = KIT_POLICY_TYPES
# The kit's wrapper for each kit policy_type: module (in the kit checkout), class, registered config type.
KIT_WRAPPERS = {
    "act": ("kuavo_train.wrapper.policy.act.ACTPolicyWrapper", "CustomACTPolicyWrapper", "custom_act"),
    "diffusion": (
        "kuavo_train.wrapper.policy.diffusion.DiffusionPolicyWrapper",
        "CustomDiffusionPolicyWrapper",
        "custom_diffusion",
    ),
}
SNIPPET_PATH = Path("configs/deploy/kuavo_env.inference.yaml")
DEVICES = ("cuda", "cpu")


@dataclass(frozen=True)
class KitLayout:
    task: str
    method: str
    timestamp: str
    epoch: str | int
    policy_type: str
    device: str

    @property
    def run_rel(self) -> Path:
        return Path("outputs/train") / self.task / self.method / self.timestamp

    @property
    def epoch_rel(self) -> Path:
        return self.run_rel / f"epoch{self.epoch}"

    def inference_section(self) -> dict:
        return {
            "policy_type": self.policy_type,
            "task": self.task,
            "method": self.method,
            "timestamp": self.timestamp,
            "epoch": self.epoch,
            "device": self.device,
        }


def check_kit_policy(ref: CheckpointRef) -> str:
    kind = policy_type(ref)
    if kind not in KIT_POLICY_TYPES:
        why = NOT_IN_PROCESS.get(
            kind, "its deploy code loads only ACT and its own Diffusion network in-process, on lerobot 0.4.2"
        )
        hint = (
            "run it in the kit's client mode: `kuavo export RUN --format kit --client` and `kuavo serve RUN` "
            "(any policy: diffusion, pi0, pi05, smolvla, ...)"
        )
        if kind in IN_PROCESS_INSTEAD:
            hint += f"; or train with `policy.type: {IN_PROCESS_INSTEAD[kind]}`, which --format kit exports"
        raise UsageError(f"policy type `{kind}` is not supported by the kit in-process: {why}", hint)
    return kind


def plan_layout(ref: CheckpointRef, task: int | None = None, device: str = "cuda") -> KitLayout:
    kind = check_kit_policy(ref)
    if device not in DEVICES:
        raise UsageError(f"--device {device!r} is not one of {', '.join(DEVICES)}")
    kit_type = KIT_POLICY_TYPE[kind]  # kit_diffusion runs as the kit's `diffusion`
    return KitLayout(_task_name(ref, task), kit_type, _timestamp(ref), _epoch(ref), kit_type, device)


def write_kit(ref: CheckpointRef, dest: Path, layout: KitLayout) -> None:
    """The kit tree under `dest` (outputs/train/... and the kuavo_env.yaml snippet)."""
    run_dir, epoch_dir = dest / layout.run_rel, dest / layout.epoch_rel
    epoch_dir.mkdir(parents=True)
    config = json.loads((ref.pretrained_dir / "config.json").read_text())
    config = kit_config(config, config["type"], layout.device)
    (epoch_dir / "config.json").write_text(json.dumps(config, indent=4) + "\n")
    shutil.copy2(ref.pretrained_dir / "model.safetensors", epoch_dir / "model.safetensors")
    for path in processor_files(ref.pretrained_dir):
        if path.suffix == ".json":
            check_pipeline(json.loads(path.read_text()), path.name)
        shutil.copy2(path, run_dir / path.name)
    set_processor_device(run_dir, layout.device)
    write_card(ref, run_dir / "README.md", _kit_load_hint(layout))
    write_inference_snippet(
        dest,
        layout,
        "# Generated by `kuavo export`: merge these keys into the `inference:` section of the kit's\n"
        "# configs/deploy/kuavo_env.yaml. The kit then loads\n"
        f"#   {layout.epoch_rel.as_posix()}/ (weights) and {layout.run_rel.as_posix()}/ (processors).\n",
    )


def write_inference_snippet(dest: Path, layout: KitLayout, header: str) -> None:
    """The `inference:` keys for the kit's deploy config, under a comment saying what to do with them."""
    snippet = dest / SNIPPET_PATH
    snippet.parent.mkdir(parents=True, exist_ok=True)
    snippet.write_text(header + yaml.safe_dump({"inference": layout.inference_section()}, sort_keys=False))


def export_kit(
    ref: CheckpointRef, out: Path, task: int | None = None, device: str = "cuda", force: bool = False
) -> ExportResult:
    if not (ref.pretrained_dir / "model.safetensors").exists():
        raise UsageError(
            f"{ref.pretrained_dir} has no model.safetensors", "the kit cannot load PEFT adapters"
        )
    layout = plan_layout(ref, task, device)
    with staged_dir(out, force) as stage:
        write_kit(ref, stage, layout)
        assert_clean(stage, extra_literals=source_paths(ref))
    return ExportResult(
        "kit",
        out,
        list_files(out),
        details={"kit": layout.inference_section(), "weights_dir": layout.epoch_rel.as_posix()},
        notes=[
            f"copy {out / 'outputs'} into your kit checkout and merge {out / SNIPPET_PATH} into "
            "configs/deploy/kuavo_env.yaml (inference: section)"
        ],
    )


def _task_name(ref: CheckpointRef, task: int | None) -> str:
    if task is not None:
        if task < 1:
            raise UsageError(f"--task {task} must be a positive task number (1, 2, 3 ...)")
        return f"task{task}"
    repo_id = dataset_repo_id(ref)
    name = repo_id.split("/")[-1] if repo_id else "kuavo"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "kuavo"


def _timestamp(ref: CheckpointRef) -> str:
    """The kit's run_<YYYYmmdd_HHMMSS>: the run folder's own name if it has that form, else the save time."""
    if ref.run_dir is not None and re.fullmatch(r"run_\d{8}_\d{6}", ref.run_dir.name):
        return ref.run_dir.name
    saved = (ref.pretrained_dir / "model.safetensors").stat().st_mtime
    return "run_" + dt.datetime.fromtimestamp(saved).strftime("%Y%m%d_%H%M%S")


def _epoch(ref: CheckpointRef) -> str | int:
    """`best` for the run's best checkpoint (the kit's default), else the training step."""
    if ref.step_dir is None or ref.run_dir is None:
        return "best"
    best = ref.run_dir / CHECKPOINTS_DIR / BEST_LINK
    if best.exists() and best.resolve() == ref.step_dir.resolve():
        return "best"
    step = ref.step
    return step if step is not None else "best"


def _kit_load_hint(layout: KitLayout) -> str:
    module, wrapper, config_type = KIT_WRAPPERS[layout.policy_type]
    return f'''# Inside the kit (configs/deploy/kuavo_env.yaml inference: policy_type={layout.policy_type},
# task={layout.task}, method={layout.method}, timestamp={layout.timestamp}, epoch={layout.epoch}):
#   python kuavo_deploy/src/scripts/script_auto_test.py --task auto_test --config configs/deploy/kuavo_env.yaml
# which loads it with lerobot {KIT_LEROBOT_VERSION} and the kit's own wrapper (config type {config_type}):
from lerobot.policies.factory import make_pre_post_processors
from lerobot_patches import custom_patches  # noqa: F401  (the kit's RGB/DEPTH feature types)
from {module} import {wrapper}

policy = {wrapper}.from_pretrained("{layout.epoch_rel.as_posix()}", strict=True)
preprocessor, postprocessor = make_pre_post_processors(None, "{layout.run_rel.as_posix()}")'''
