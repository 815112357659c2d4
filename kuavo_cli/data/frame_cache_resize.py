"""A frame cache at the resolution the policy consumes: the frames pass through the policy's own resize
(lerobot's function, called here) once, when the cache is built, instead of at every training step.

Which policies resize their camera images in lerobot 0.6.1, and with what:
- pi05, pi0, pi0_fast: `lerobot.policies.common.vla_utils.resize_with_pad_torch` to `image_resolution`
  (224x224: bilinear, aspect kept, centred black padding), called by the model only when the frame is not
  already that size;
- smolvla: `vla_utils.resize_with_pad` to `resize_imgs_with_padding` (512x512, top-left padding), a no-op
  on frames already that size;
- diffusion with `resize_shape`: `torchvision.transforms.Resize(resize_shape)` in its RGB encoder (bilinear,
  antialiased), the identity on frames already that size (a random/centre crop, if any, follows as before).
ACT, VQ-BeT and diffusion without `resize_shape` consume the full frames: no reduced cache for those.

What the model sees differs from lerobot's pipeline only by the uint8 rounding of the resized frame:
the cache holds round(255 * r) where r is lerobot's resize of frame / 255, so every input pixel is within
0.5 / 255 (~0.002, in [0, 1] units) of lerobot's; padding is exact. Diffusion normalises images before its
resize, and both are linear, so there the bound is 0.5 / 255 / std of the channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

PAD_RESIZE_POLICIES = ("pi05", "pi0", "pi0_fast")


@dataclass(frozen=True)
class CacheResize:
    policy: str  # the policy type whose resize this is
    function: str  # the lerobot / torchvision function applied
    size: tuple[int, int]  # (height, width) of the cached frames

    def key(self) -> str:
        """Goes into the cache fingerprint and folder name."""
        return f"{self.policy}:{self.function}:{self.size[0]}x{self.size[1]}"

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return self.size

    def apply(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 (T, 3, H, W) -> uint8 (T, 3, h, w): lerobot's resize of frames / 255, rounded back."""
        x = frames.to(torch.float32) / 255.0  # what lerobot-train hands the policy
        if self.function == "resize_with_pad_torch":
            from lerobot.policies.common.vla_utils import resize_with_pad_torch

            # pi0/pi05 call it on channels-last frames (modeling_pi05.py: _preprocess_images)
            y = resize_with_pad_torch(x.permute(0, 2, 3, 1), *self.size).permute(0, 3, 1, 2)
        elif self.function == "resize_with_pad":
            from lerobot.policies.common.vla_utils import resize_with_pad

            y = resize_with_pad(x, self.size[0], self.size[1], pad_value=0)
        elif self.function == "torchvision.Resize":
            import torchvision

            y = torchvision.transforms.Resize(self.size)(x)  # as DiffusionRgbEncoder builds it
        else:
            raise ValueError(f"unknown resize function {self.function!r}")
        return torch.round(y * 255.0).clamp_(0, 255).to(torch.uint8).contiguous()


def policy_resize(policy_cfg: Any) -> CacheResize | None:
    """The resize this lerobot policy config applies to every camera frame, or None (full frames)."""
    kind = getattr(policy_cfg, "type", None)
    if kind in PAD_RESIZE_POLICIES and getattr(policy_cfg, "image_resolution", None):
        h, w = policy_cfg.image_resolution
        return CacheResize(kind, "resize_with_pad_torch", (int(h), int(w)))
    if kind == "smolvla" and getattr(policy_cfg, "resize_imgs_with_padding", None):
        w, h = policy_cfg.resize_imgs_with_padding  # smolvla stores (width, height)
        return CacheResize(kind, "resize_with_pad", (int(h), int(w)))
    if kind == "diffusion" and getattr(policy_cfg, "resize_shape", None):
        h, w = policy_cfg.resize_shape
        return CacheResize(kind, "torchvision.Resize", (int(h), int(w)))
    return None


def resizing_policies() -> str:
    return "pi05, pi0, pi0_fast, smolvla, or diffusion with resize_shape"
