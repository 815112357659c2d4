"""The run folder: where it is, whether we resume, and the files beside the checkpoints."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kuavo_cli import checkpoints as ckpt
from kuavo_cli.checkpoints import (
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    KUAVO_STATE_FILE,
    SPLIT_FILE,
    TRAINING_STATE_DIR,
)
from kuavo_cli.config.models import TrainConfig
from kuavo_cli.errors import UsageError
from kuavo_cli.utils import atomic


def default_output_dir(cfg: TrainConfig) -> Path:
    now = dt.datetime.now()
    name = cfg.job_name or f"{cfg.policy.type}_{Path(cfg.dataset.repo_id).name}"
    return Path("outputs/train") / f"{now:%Y-%m-%d}" / f"{now:%H-%M-%S}_{name}"


@dataclass
class RunDir:
    path: Path
    resume_step_dir: Path | None = None
    state: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def prepare(
        cls,
        cfg: TrainConfig,
        accelerator: Any,
        resume_from: Path | None,
        check_resume: Callable[[Path], None] | None = None,
    ) -> RunDir:
        """Resolve (and on the main process create) the run folder; all ranks agree on it. `check_resume`
        may refuse the checkpoint to resume from before anything in the run folder is rewritten."""
        from accelerate.utils import broadcast_object_list

        resume_from = resume_from or (cfg.resume if isinstance(cfg.resume, Path) else None)
        if resume_from is None and cfg.resume is True:
            if cfg.output_dir is None:
                raise UsageError(
                    "resume: true needs output_dir (the run to continue)", "or pass --resume RUN_DIR"
                )
            resume_from = cfg.output_dir
        if resume_from is not None:
            step_dir = ckpt.resume_checkpoint(resume_from)
            path = ckpt.run_dir_of(step_dir)
            if check_resume is not None:
                check_resume(step_dir)
        else:
            step_dir = None
            chosen = [str(cfg.output_dir or default_output_dir(cfg))]
            broadcast_object_list(chosen)  # time-based default names must match across ranks
            path = Path(chosen[0])
            if (path / CHECKPOINTS_DIR).exists() and any((path / CHECKPOINTS_DIR).iterdir()):
                raise UsageError(
                    f"output_dir {path} already holds a training run",
                    f"continue it with --resume {path}, or choose another output_dir",
                )
        run = cls(path.resolve(), step_dir)
        if step_dir is not None and (step_dir / TRAINING_STATE_DIR / KUAVO_STATE_FILE).exists():
            run.state = json.loads((step_dir / TRAINING_STATE_DIR / KUAVO_STATE_FILE).read_text())
        if accelerator.is_main_process:
            run.path.mkdir(parents=True, exist_ok=True)
            atomic.write_text(
                run.path / CONFIG_FILE, yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
            )
        accelerator.wait_for_everyone()
        return run

    def write_split(self, split: Any) -> None:
        atomic.write_text(self.path / SPLIT_FILE, split.to_json())
