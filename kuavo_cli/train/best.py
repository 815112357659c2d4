"""The `best` checkpoint without a save per improvement.

A new lowest validation loss only copies the weights to CPU memory on the main process (no disk, no
barrier). At the next save point (every `save_freq` steps, the last step, or a stop signal) they are written
once as a model-only checkpoint (`checkpoints/<step>/pretrained_model`, no training_state) and `best` points
at it; when the best is the step being saved, `best` points at that full checkpoint. So the extra writes are
bounded by the number of save points, and `best` is exact at every save point. A hard kill (SIGKILL, power
loss) between an improvement and the next save point loses that improvement, as it loses the steps since
the last checkpoint.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from kuavo_cli import checkpoints as ckpt


class BestTracker:
    def __init__(self, best_val: float = math.inf, best_step: int | None = None):
        self.best_val = best_val
        self.best_step = best_step
        self._pending: tuple[int, dict[str, Any]] | None = None

    def observe(self, step: int, val_loss: float, model: Any, is_main: bool) -> bool:
        """Record a validation loss; on a new best the main process keeps a CPU copy of the weights."""
        if not val_loss < self.best_val:
            return False
        self.best_val, self.best_step = val_loss, step
        if is_main:
            self._pending = (
                step,
                {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()},
            )
        return True

    def write(self, run_dir: Path, saved_step: int, total_steps: int, parts: dict[str, Any]) -> Path | None:
        """Main process, right after the full checkpoint of `saved_step`: materialise a pending best and
        move the `best` link. `parts` holds what save_checkpoint got: model, lerobot_cfg, pre/postprocessor."""
        if self._pending is None:
            return None
        step, state = self._pending
        self._pending = None
        ckpts = run_dir / ckpt.CHECKPOINTS_DIR
        name = ckpt.step_name(step, total_steps)
        if step != saved_step:
            ckpt.save_model_only_atomic(ckpts / name, state, parts)
        ckpt.write_best(ckpts, name, step, self.best_val)
        return ckpts / name
