"""Process-wide state around a training run: accelerate's singletons, cuDNN flags, the stop exception."""

from __future__ import annotations

from pathlib import Path

import torch

from kuavo_cli.errors import KuavoError


class TrainingInterrupted(KuavoError):
    def __init__(self, signame: str, step: int, checkpoint: Path | None):
        where = f"; checkpoint saved at {checkpoint}" if checkpoint else ""
        super().__init__(
            f"training stopped by {signame} after step {step}{where}",
            f"continue with: kuavo train --resume {checkpoint.parent.parent}" if checkpoint else None,
            exit_code=130 if signame == "SIGINT" else 143,
        )


def reset_accelerate_singletons() -> None:
    """Accelerate keeps process-wide state; a second Trainer in one (non-distributed) process, e.g. in a
    notebook, must not inherit the first one's mixed precision or accumulation settings."""
    from kuavo_cli.train.launch import inside_launcher

    if inside_launcher():
        return
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


def set_cudnn(deterministic: bool) -> None:
    """As lerobot-train: deterministic kernels on request, else cudnn autotuning; TF32 matmuls allowed."""
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cuda.matmul.allow_tf32 = True
