"""Find and load checkpoints in lerobot's layout (ours and plain `lerobot-train`'s), safetensors only.

`resolve_checkpoint` is the one resolver: eval, export, serve, inspect and the sim take what it picks
(`best`, else `last`), `train --resume` takes `resume_checkpoint` (the same resolver, `last` first, plus the
training state). The folder layout is in `kuavo_cli.checkpoints.layout`.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from kuavo_cli.checkpoints.integrity import verify_pretrained_dir, verify_training_state_dir
from kuavo_cli.checkpoints.layout import (
    ADAPTER_FILE,
    BEST_LINK,
    CHECKPOINTS_DIR,
    LAST_LINK,
    MODEL_FILE,
    PICKLE_SUFFIXES,
    POLICY_CONFIG_FILE,
    PREPROCESSOR_FILE,
    PRETRAINED_DIR,
    SPLIT_FILE,
    TRAINING_STATE_DIR,
    TRAINING_STEP_FILE,
)
from kuavo_cli.errors import KuavoError, UsageError

RESUME_HINT = "pass the run folder (outputs/train/...) or one of its checkpoints/<step> folders"


@dataclass(frozen=True)
class CheckpointRef:
    pretrained_dir: Path  # holds config.json + model.safetensors
    step_dir: Path | None  # checkpoints/<step>, when the checkpoint sits in a run
    run_dir: Path | None  # the training run folder, when known

    @property
    def step(self) -> int | None:
        if self.step_dir is None:
            return None
        state = self.step_dir / TRAINING_STATE_DIR / TRAINING_STEP_FILE
        if state.exists():
            return int(json.loads(state.read_text())["step"])
        try:
            return int(self.step_dir.resolve().name)
        except ValueError:
            return None

    def split(self) -> dict[str, Any] | None:
        """The train/validation episode split recorded by the run, if any."""
        if self.run_dir is None or not (self.run_dir / SPLIT_FILE).exists():
            return None
        return json.loads((self.run_dir / SPLIT_FILE).read_text())


def resolve_checkpoint(path: str | Path, prefer: Literal["best", "last"] = "best") -> CheckpointRef:
    """Accept a run folder (its `prefer` link, else the other one, else its highest step), a step folder,
    or a `pretrained_model` folder."""
    path = Path(path)
    if prefer not in (BEST_LINK, LAST_LINK):
        raise ValueError(f"prefer must be {BEST_LINK!r} or {LAST_LINK!r}, not {prefer!r}")
    if not path.exists():
        raise UsageError(f"checkpoint {path} does not exist")
    if (path / CHECKPOINTS_DIR).is_dir():
        ckpts = path / CHECKPOINTS_DIR
        order = [BEST_LINK, LAST_LINK] if prefer == BEST_LINK else [LAST_LINK, BEST_LINK]
        for name in order:
            if (ckpts / name).exists():
                return _from_step_dir((ckpts / name), run_dir=path)
        steps = sorted(p for p in ckpts.iterdir() if p.is_dir() and p.name.isdigit())
        if steps:
            return _from_step_dir(steps[-1], run_dir=path)
        raise UsageError(f"{path} has no checkpoints yet", "train longer than save_freq, or pick another run")
    if (path / PRETRAINED_DIR).is_dir():
        run = path.parent.parent if path.parent.name == CHECKPOINTS_DIR else None
        return _from_step_dir(path, run_dir=run)
    if (path / POLICY_CONFIG_FILE).exists():
        step_dir = path.parent if path.name == PRETRAINED_DIR else None
        run = step_dir.parent.parent if step_dir and step_dir.parent.name == CHECKPOINTS_DIR else None
        ref = CheckpointRef(path, step_dir, run)
        _check_weights(ref.pretrained_dir)
        return ref
    raise UsageError(
        f"{path} is not a checkpoint",
        "pass a run folder, a checkpoints/<step> folder or a pretrained_model folder (config.json inside)",
    )


def resume_checkpoint(path: str | Path) -> Path:
    """The step folder `train --resume PATH` continues from, links followed: a run folder's `last` (the
    resolver with prefer="last"), or the checkpoints/<step> (or its pretrained_model) folder given.

    Its files are verified whole (weights, processors, optimizer/scheduler/rng state) here, the one place
    every resume passes, so a damaged checkpoint is named before a training process starts.
    """
    ref = resolve_checkpoint(path, prefer=LAST_LINK)
    step_dir = ref.step_dir.resolve() if ref.step_dir is not None else None
    if step_dir is None or not (step_dir / TRAINING_STATE_DIR).is_dir():
        raise UsageError(
            f"cannot resume from {path}: no {TRAINING_STATE_DIR} folder beside its weights (a model-only "
            "checkpoint, e.g. a `best` between save points)",
            RESUME_HINT,
        )
    verify_pretrained_dir(step_dir / PRETRAINED_DIR)
    verify_training_state_dir(step_dir / TRAINING_STATE_DIR)
    return step_dir


def run_dir_of(step_dir: Path) -> Path:
    """The run folder holding a checkpoints/<step> folder."""
    return step_dir.parent.parent


def _from_step_dir(step_dir: Path, run_dir: Path | None) -> CheckpointRef:
    pretrained = step_dir / PRETRAINED_DIR
    if not (pretrained / POLICY_CONFIG_FILE).exists():
        raise UsageError(
            f"{pretrained} has no {POLICY_CONFIG_FILE}", "the checkpoint is incomplete; pick another step"
        )
    ref = CheckpointRef(pretrained, step_dir, run_dir)
    _check_weights(pretrained)
    return ref


def _check_weights(pretrained: Path) -> None:
    if (pretrained / MODEL_FILE).exists() or (pretrained / ADAPTER_FILE).exists():
        return
    pickles = [p.name for p in pretrained.iterdir() if p.suffix in PICKLE_SUFFIXES]
    if pickles:
        raise UsageError(
            f"{pretrained} only has pickle weights ({', '.join(pickles)}); refusing to load them",
            "re-save the policy with save_pretrained() (safetensors)",
        )
    raise UsageError(f"{pretrained} has no {MODEL_FILE}", "the checkpoint is incomplete; pick another step")


def load_policy(ref: CheckpointRef, device: str = "cpu") -> tuple[Any, Any, Any, Any]:
    """(policy, policy_config, preprocessor, postprocessor) through lerobot's own loaders."""
    from kuavo_cli.utils.logs import quiet_logs

    verify_pretrained_dir(
        ref.pretrained_dir
    )  # a damaged file: name it, not a SafetensorError from deep inside

    # lerobot prints "Loading weights from local directory" on stdout, which would corrupt `--json` output.
    with quiet_logs(), contextlib.redirect_stdout(io.StringIO()):
        from lerobot.configs.policies import PreTrainedConfig
        from lerobot.policies import get_policy_class, make_pre_post_processors

        from kuavo_cli.policies import register

        register()  # so config.json may name kuavo's own policy types (kit_diffusion)
        try:
            cfg = PreTrainedConfig.from_pretrained(ref.pretrained_dir)
        except Exception as err:
            raise UsageError(
                f"{ref.pretrained_dir / POLICY_CONFIG_FILE} is not a lerobot policy config: {err}"
            ) from err
        cfg.device = device
        if hasattr(cfg, "pretrained_backbone_weights"):
            cfg.pretrained_backbone_weights = None  # weights come from model.safetensors; no download
        try:
            if getattr(cfg, "use_peft", False):
                policy = _load_peft_policy(ref.pretrained_dir, cfg)
            else:
                policy = get_policy_class(cfg.type).from_pretrained(ref.pretrained_dir, config=cfg)
        except ImportError as err:  # lerobot's optional extras: its message names the pip command
            raise KuavoError(f"cannot load a {cfg.type} policy: {err}") from err
        policy.to(device)
        policy.eval()
        pre, post = make_pre_post_processors(
            cfg,
            pretrained_path=str(ref.pretrained_dir),
            preprocessor_overrides=_device_override(ref.pretrained_dir / PREPROCESSOR_FILE, device),
            postprocessor_overrides={},
        )
    return policy, cfg, pre, post


def _load_peft_policy(pretrained_dir: Path, cfg: Any) -> Any:
    """A LoRA/PEFT checkpoint holds only the adapter: load its base policy, apply the adapter, merge it
    (inference then runs the plain lerobot policy)."""
    from lerobot.policies import get_policy_class
    from peft import PeftConfig, PeftModel

    base = PeftConfig.from_pretrained(str(pretrained_dir)).base_model_name_or_path
    if not base or not Path(base).exists():
        raise UsageError(
            f"{pretrained_dir} is a PEFT adapter whose base policy {base!r} is not on this machine",
            "copy the base checkpoint there, or export a merged policy where it is",
        )
    policy = get_policy_class(cfg.type).from_pretrained(base, config=cfg)
    merged = PeftModel.from_pretrained(policy, str(pretrained_dir)).merge_and_unload()
    merged.config.use_peft = False
    return merged


def _device_override(pipeline_json: Path, device: str) -> dict[str, Any]:
    """Point the preprocessor's device step at `device`; lerobot rejects overrides for absent steps."""
    if not pipeline_json.exists():
        raise UsageError(
            f"{pipeline_json.parent} has no {pipeline_json.name}",
            "the checkpoint predates lerobot's processor pipelines; re-save it with lerobot >= 0.4",
        )
    steps = json.loads(pipeline_json.read_text()).get("steps", [])
    if any(step.get("registry_name") == "device_processor" for step in steps):
        return {"device_processor": {"device": device}}
    return {}
