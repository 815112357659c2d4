"""A stand-in for the kit's Diffusion wrapper on lerobot 0.4.2: runs INSIDE the kit's env (Python 3.10).

`kuavo export --check` loads a `diffusion` submission with it when the kit's own code is not at hand (the
package's smoke test, kuavo_submission/infer.py, imports this file from the path in KUAVO_KIT_STANDIN), and the
tests load `kit_diffusion` kit exports with it (tests/kit_side_042.py). So it imports only lerobot 0.4.2, torch,
torchvision and einops (all in the kit env) and nothing of kuavo_cli, and keeps to Python 3.10 syntax. It is
not shipped in a package: inside the image the kit's real CustomDiffusionPolicyWrapper loads the policy.

Written by kuavo from the wrapper's documented contract (the kit's kuavo_train/wrapper/policy/diffusion/*,
GPL-3.0, read for its loading rules and network layout; none of its code is here):
  - config.json names `custom_diffusion`, a registered subclass of lerobot's DiffusionConfig; draccus refuses
    fields 0.4.2 does not know; each `custom` key becomes a config attribute, refusing keys the config has;
  - the policy is lerobot's DiffusionPolicy whose `diffusion` model is replaced by the kit's, and it reads
    `use_depth`, `use_unet` and `resize_shape` unconditionally; weights load with strict=True;
  - the model: per camera a nested encoder `rgb_encoder[.<i>].model.{backbone,pool,out}` (ResNet trunk, spatial
    softmax, linear + ReLU), `rgb_attn_layer` self-attention over the cameras of each observation step, an
    optional `state_encoder.net` MLP, and the UNet conditioned on [cameras..., state, env state] per step;
  - select_action crops each camera image (centre crop of crop_shape) and then resizes it (bilinear, to
    resize_shape) before lerobot's queues; sampling passes `ddim_eta` to a DDIM scheduler.
The developer check (tests/test_kit_diffusion042.py::test_real_kit_wrapper) runs the same comparison with the
kit's real classes instead.
"""

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import einops
import torch
import torchvision
import torchvision.transforms.v2 as v2
from lerobot.configs.policies import PreTrainedConfig
from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
from lerobot.policies.diffusion.modeling_diffusion import (
    DiffusionConditionalUnet1d,
    DiffusionModel,
    DiffusionPolicy,
    SpatialSoftmax,
    _replace_submodules,
)
from lerobot.policies.utils import get_output_shape
from lerobot.utils.constants import OBS_ENV_STATE, OBS_IMAGES, OBS_STATE
from torch import nn


@PreTrainedConfig.register_subclass("custom_diffusion")
@dataclass
class StandInKitDiffusionConfig(DiffusionConfig):
    custom: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        for key, value in self.custom.items():
            if hasattr(self, key):
                raise ValueError(f"custom setting {key!r} conflicts with the base config")
            setattr(self, key, value)


class CameraEncoder(nn.Module):
    def __init__(self, config: StandInKitDiffusionConfig) -> None:
        super().__init__()
        self.model = nn.Module()  # the kit's extra nesting level
        resnet = getattr(torchvision.models, config.vision_backbone)(weights=None)
        trunk = nn.Sequential(*list(resnet.children())[:-2])
        if config.use_group_norm:
            trunk = _replace_submodules(
                trunk,
                lambda m: isinstance(m, nn.BatchNorm2d),
                lambda m: nn.GroupNorm(max(1, m.num_features // 16), m.num_features),
            )
        channels = next(iter(config.image_features.values())).shape[0]
        fmap = get_output_shape(trunk, (1, channels, *config.resize_shape))[1:]
        kp = config.spatial_softmax_num_keypoints
        self.model.backbone = trunk
        self.model.pool = SpatialSoftmax(fmap, num_kp=kp)
        self.model.out = nn.Linear(2 * kp, 2 * kp)
        self.feature_dim = 2 * kp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        keypoints = self.model.pool(self.model.backbone(x))
        return torch.relu(self.model.out(keypoints.flatten(start_dim=1)))


class StandInKitDiffusionModel(DiffusionModel):
    def __init__(self, config: StandInKitDiffusionConfig) -> None:
        super().__init__(
            config
        )  # scheduler and inference steps as lerobot's; encoder and UNet replaced below
        if not config.use_unet or config.use_depth or getattr(config, "state_fuse", False):
            raise ValueError("this stand-in covers the UNet configuration without depth or state fusion")
        n = len(config.image_features)
        if config.use_separate_rgb_encoder_per_camera:
            self.rgb_encoder = nn.ModuleList(CameraEncoder(config) for _ in range(n))
            dim = self.rgb_encoder[0].feature_dim
        else:
            self.rgb_encoder = CameraEncoder(config)
            dim = self.rgb_encoder.feature_dim
        self.rgb_attn_layer = nn.MultiheadAttention(
            dim, getattr(config, "rgb_attn_heads", 8), batch_first=True
        )
        state_dim = config.robot_state_feature.shape[0]
        self.state_encoder = None
        if getattr(config, "use_state_encoder", False):
            out = getattr(config, "state_feature_dim", 128)
            self.state_encoder = nn.Module()
            self.state_encoder.net = nn.Sequential(nn.Linear(state_dim, out), nn.ReLU(), nn.Linear(out, out))
            state_dim = out
        env_dim = config.env_state_feature.shape[0] if config.env_state_feature else 0
        cond = (dim * n + state_dim + env_dim) * config.n_obs_steps
        self.unet = DiffusionConditionalUnet1d(config, global_cond_dim=cond)

    def _prepare_global_conditioning(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        b, s, n = batch[OBS_IMAGES].shape[:3]
        if self.config.use_separate_rgb_encoder_per_camera:
            cams = [enc(batch[OBS_IMAGES][:, :, i].flatten(0, 1)) for i, enc in enumerate(self.rgb_encoder)]
            tokens = torch.stack(cams, dim=1)  # (b s) n f
        else:
            flat = self.rgb_encoder(batch[OBS_IMAGES].flatten(0, 2))
            tokens = flat.view(b * s, n, -1)
        tokens, _ = self.rgb_attn_layer(tokens, tokens, tokens)
        state = batch[OBS_STATE]
        if self.state_encoder is not None:
            state = self.state_encoder.net(state)
        parts = [einops.rearrange(tokens, "(b s) n f -> b s (n f)", b=b, s=s), state]
        if self.config.env_state_feature:
            parts.append(batch[OBS_ENV_STATE])
        return torch.cat(parts, dim=-1).reshape(b, -1)

    def conditional_sample(self, batch_size, global_cond=None, generator=None, noise=None):
        param = next(self.parameters())
        size = (batch_size, self.config.horizon, self.config.action_feature.shape[0])
        x = noise if noise is not None else torch.randn(size, dtype=param.dtype, device=param.device)
        self.noise_scheduler.set_timesteps(self.num_inference_steps)
        extra = {}
        if type(self.noise_scheduler).__name__ == "DDIMScheduler":
            extra["eta"] = getattr(self.config, "ddim_eta", 0.0)
        for t in self.noise_scheduler.timesteps:
            timesteps = torch.full((batch_size,), t, dtype=torch.long, device=param.device)
            eps = self.unet(x, timesteps, global_cond=global_cond)
            x = self.noise_scheduler.step(eps, t, x, **extra).prev_sample
        return x


class StandInKitDiffusionPolicy(DiffusionPolicy):
    config_class = StandInKitDiffusionConfig
    name = "custom_diffusion"

    def __init__(self, config: StandInKitDiffusionConfig, **kwargs: Any) -> None:
        super().__init__(config)
        self.diffusion = StandInKitDiffusionModel(config)

    def reset(self) -> None:
        if self.config.use_depth:  # read unconditionally by the kit (AttributeError when absent)
            raise ValueError("this stand-in covers RGB-only exports")
        super().reset()

    @torch.no_grad()
    def select_action(
        self, batch: dict[str, torch.Tensor], noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        batch = dict(batch)
        crop = v2.CenterCrop(list(self.config.crop_shape))
        resize = v2.Resize(list(self.config.resize_shape), interpolation=v2.InterpolationMode.BILINEAR)
        for key in self.config.image_features:
            batch[key] = resize(crop(batch[key]))
        return super().select_action(batch, noise=noise)


def load(epoch_dir: Path) -> StandInKitDiffusionPolicy:
    """The policy in `epoch_dir`, as the kit's `CustomDiffusionPolicyWrapper.from_pretrained(dir, strict=True)`."""
    cfg = PreTrainedConfig.from_pretrained(epoch_dir)
    if type(cfg) is not StandInKitDiffusionConfig:
        raise ValueError(f"{epoch_dir}/config.json is a {cfg.type!r} config, not the kit's custom_diffusion")
    with contextlib.redirect_stdout(io.StringIO()):  # lerobot prints while loading
        return StandInKitDiffusionPolicy.from_pretrained(epoch_dir, config=cfg, strict=True)
