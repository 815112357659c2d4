"""The policy behind `kuavo serve`: a kuavo / lerobot 0.6.1 checkpoint with its own pre/post processors.

The whole lerobot pipeline runs here (normalisation, batching, device moves, tokenisers of VLA policies),
so the kit side only has to send raw observations: `preprocessor -> policy.select_action ->
postprocessor`, exactly the in-process order of the kit's loop and of `kuavo eval`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from kuavo_cli.checkpoints import CheckpointRef, load_policy, resolve_checkpoint
from kuavo_cli.errors import UsageError
from kuavo_cli.serve.server import RequestRefused

DEVICES = ("auto", "cuda", "cpu")


def pick_device(device: str) -> str:
    if device not in DEVICES:
        raise UsageError(f"--device {device!r} is not one of {', '.join(DEVICES)}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda but torch sees no CUDA GPU here", "use --device cpu (or auto)")
    return device


class ServedPolicy:
    """select_action / reset / info endpoints over one loaded checkpoint."""

    def __init__(
        self, checkpoint: str | Path, device: str = "auto", seed: int | None = None, task: str | None = None
    ) -> None:
        self.ref: CheckpointRef = resolve_checkpoint(checkpoint)
        self.device = pick_device(device)
        self.seed = seed
        self.task = task
        self._reseed()
        self.policy, self.cfg, self.pre, self.post = load_policy(self.ref, self.device)
        self.input_names = sorted(self.cfg.input_features)

    def endpoints(self) -> dict[str, Any]:
        return {"select_action": self.select_action, "reset": self.reset, "info": self.info}

    def select_action(self, data: Any) -> torch.Tensor:
        obs = self._check_observation(data)
        with torch.inference_mode():
            action = self.post(self.policy.select_action(self.pre(obs)))
        return action.detach().to("cpu", torch.float32)

    def reset(self, _data: Any = None) -> dict[str, str]:
        self.policy.reset()
        self._reseed()
        return {"status": "ok", "message": "policy reset"}

    def info(self, _data: Any = None) -> dict[str, Any]:
        """Plain data only: the client decodes it with weights_only=True."""
        config = {"type": self.cfg.type, "n_obs_steps": int(self.cfg.n_obs_steps)}
        for name in ("n_action_steps", "chunk_size", "horizon"):
            value = getattr(self.cfg, name, None)
            if isinstance(value, int):
                config[name] = value
        return {
            "status": "ok",
            "server": "kuavo serve",
            "config": config,
            "device": self.device,
            "step": self.ref.step,
            "input_features": {k: list(f.shape) for k, f in self.cfg.input_features.items()},
            "output_features": {k: list(f.shape) for k, f in self.cfg.output_features.items()},
        }

    def describe(self) -> str:
        step = f"step {self.ref.step}" if self.ref.step is not None else "no step"
        return f"{self.cfg.type} ({step}) on {self.device}"

    def _reseed(self) -> None:
        # diffusion / flow policies sample noise: a fixed seed makes a served episode reproducible
        if self.seed is not None:
            torch.manual_seed(self.seed)

    def _check_observation(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise RequestRefused(f"select_action expects a dict of observations, got {type(data).__name__}")
        missing = [name for name in self.input_names if name not in data]
        if missing:
            raise RequestRefused(
                f"observation lacks {', '.join(missing)} (this policy reads {', '.join(self.input_names)})"
            )
        obs: dict[str, Any] = {}
        for name in self.input_names:
            value = data[name]
            if not isinstance(value, torch.Tensor):
                raise RequestRefused(f"{name} must be a tensor, got {type(value).__name__}")
            want = tuple(self.cfg.input_features[name].shape)
            if tuple(value.shape[-len(want) :]) != want or value.dim() > len(want) + 1:
                raise RequestRefused(
                    f"{name} has shape {list(value.shape)}, this policy expects {list(want)}"
                )
            obs[name] = value.float()
        task = data.get("task", self.task)
        if task is not None:
            obs["task"] = task  # the instruction VLA processors tokenise; ACT / Diffusion ignore it
        return obs
