"""`kit_diffusion`: lerobot's Diffusion policy rebuilt as the competition kit's wrapper builds it.

What differs from lerobot's DiffusionPolicy (and what the kit's strict weight load checks, key by key):
  - each camera encoder is nested: `rgb_encoder.model.{backbone,pool,out}` (one encoder shared by the cameras,
    or `rgb_encoder.<i>.model...` with one per camera);
  - `rgb_attn_layer`: multi-head self-attention across the cameras' feature vectors of each observation step;
  - optional `state_encoder.net` (Linear-ReLU-Linear) on the state;
  - the UNet's global conditioning is, per observation step, [camera features..., state, env state], the
    steps then flattened (lerobot puts the state first);
  - the policy crops (random while training, centred otherwise) and then resizes each camera image before the
    observation queue; the encoder itself does neither.
Everything else (UNet, noise scheduler, loss, observation/action queues) is lerobot's, inherited.
"""

from __future__ import annotations

import einops
import torch
import torchvision.transforms.v2.functional as tvf
from lerobot.policies.diffusion.modeling_diffusion import (
    DiffusionConditionalUnet1d,
    DiffusionModel,
    DiffusionPolicy,
    SpatialSoftmax,
    _make_noise_scheduler,
    _replace_submodules,
)
from lerobot.policies.pretrained import PreTrainedPolicy
from lerobot.policies.utils import get_device_from_parameters, get_dtype_from_parameters, get_output_shape
from lerobot.utils.constants import OBS_ENV_STATE, OBS_IMAGES, OBS_STATE
from torch import Tensor, nn
from torchvision import models
from torchvision.transforms import InterpolationMode

from kuavo_cli.policies.kit_diffusion.configuration_kit_diffusion import KitDiffusionConfig


class KitResnetEncoder(nn.Module):
    """ResNet trunk -> spatial softmax keypoints -> linear + ReLU: one camera image to one feature vector."""

    def __init__(self, config: KitDiffusionConfig) -> None:
        super().__init__()
        trunk = getattr(models, config.vision_backbone)(weights=config.pretrained_backbone_weights)
        self.backbone = nn.Sequential(*list(trunk.children())[:-2])  # without avgpool and fc
        if config.use_group_norm:
            if config.pretrained_backbone_weights:
                raise ValueError("use_group_norm replaces BatchNorm, which would ruin pretrained weights")
            self.backbone = _replace_submodules(
                root_module=self.backbone,
                predicate=lambda m: isinstance(m, nn.BatchNorm2d),
                func=lambda m: nn.GroupNorm(
                    num_groups=max(1, m.num_features // 16), num_channels=m.num_features
                ),
            )
        channels = next(iter(config.image_features.values())).shape[0]
        feature_map = get_output_shape(self.backbone, (1, channels, *config.encoder_input_hw))[1:]
        self.pool = SpatialSoftmax(feature_map, num_kp=config.spatial_softmax_num_keypoints)
        self.feature_dim = config.spatial_softmax_num_keypoints * 2
        self.out = nn.Linear(self.feature_dim, self.feature_dim)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        x = torch.flatten(self.pool(self.backbone(x)), start_dim=1)
        return self.relu(self.out(x))


class KitRgbEncoder(nn.Module):
    """The extra nesting level the kit's weights have (`rgb_encoder.model.*`)."""

    def __init__(self, config: KitDiffusionConfig) -> None:
        super().__init__()
        self.model = KitResnetEncoder(config)
        self.feature_dim = self.model.feature_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class KitStateEncoder(nn.Module):
    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, out_dim), nn.ReLU(), nn.Linear(out_dim, out_dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class KitDiffusionModel(DiffusionModel):
    def __init__(self, config: KitDiffusionConfig) -> None:
        nn.Module.__init__(self)  # not DiffusionModel.__init__: it would build lerobot's encoder and UNet
        self.config = config
        n_cameras = len(config.image_features)
        if config.use_separate_rgb_encoder_per_camera:
            self.rgb_encoder = nn.ModuleList(KitRgbEncoder(config) for _ in range(n_cameras))
            feature_dim = self.rgb_encoder[0].feature_dim
        else:
            self.rgb_encoder = KitRgbEncoder(config)
            feature_dim = self.rgb_encoder.feature_dim
        self.rgb_attn_layer = nn.MultiheadAttention(feature_dim, config.rgb_attn_heads, batch_first=True)
        state_dim = config.robot_state_feature.shape[0]
        self.state_encoder = None
        if config.use_state_encoder:
            self.state_encoder = KitStateEncoder(state_dim, config.state_feature_dim)
            state_dim = config.state_feature_dim
        cond_dim = feature_dim * n_cameras + state_dim
        if config.env_state_feature:
            cond_dim += config.env_state_feature.shape[0]
        self.unet = DiffusionConditionalUnet1d(config, global_cond_dim=cond_dim * config.n_obs_steps)
        self.noise_scheduler = _make_noise_scheduler(
            config.noise_scheduler_type,
            num_train_timesteps=config.num_train_timesteps,
            beta_start=config.beta_start,
            beta_end=config.beta_end,
            beta_schedule=config.beta_schedule,
            clip_sample=config.clip_sample,
            clip_sample_range=config.clip_sample_range,
            prediction_type=config.prediction_type,
        )
        self.num_inference_steps = config.num_inference_steps or config.num_train_timesteps

    def _prepare_global_conditioning(self, batch: dict[str, Tensor]) -> Tensor:
        b, s = batch[OBS_STATE].shape[:2]
        if self.config.use_separate_rgb_encoder_per_camera:
            per_camera = einops.rearrange(batch[OBS_IMAGES], "b s n ... -> n (b s) ...")
            feats = torch.cat([enc(images) for enc, images in zip(self.rgb_encoder, per_camera, strict=True)])
            tokens = einops.rearrange(feats, "(n b s) f -> (b s) n f", b=b, s=s)
        else:
            feats = self.rgb_encoder(einops.rearrange(batch[OBS_IMAGES], "b s n ... -> (b s n) ..."))
            tokens = einops.rearrange(feats, "(b s n) f -> (b s) n f", b=b, s=s)
        tokens = self.rgb_attn_layer(tokens, tokens, tokens)[0]  # each camera attends to all of them
        cond = [einops.rearrange(tokens, "(b s) n f -> b s (n f)", b=b, s=s)]
        state = batch[OBS_STATE]
        cond.append(self.state_encoder(state) if self.state_encoder is not None else state)
        if self.config.env_state_feature:
            cond.append(batch[OBS_ENV_STATE])
        return torch.cat(cond, dim=-1).flatten(start_dim=1)

    def conditional_sample(
        self,
        batch_size: int,
        global_cond: Tensor | None = None,
        generator: torch.Generator | None = None,
        noise: Tensor | None = None,
    ) -> Tensor:
        """lerobot's denoising loop, plus the kit's `ddim_eta` for a DDIM scheduler."""
        device, dtype = get_device_from_parameters(self), get_dtype_from_parameters(self)
        shape = (batch_size, self.config.horizon, self.config.action_feature.shape[0])
        sample = (
            noise
            if noise is not None
            else torch.randn(shape, dtype=dtype, device=device, generator=generator)
        )
        self.noise_scheduler.set_timesteps(self.num_inference_steps)
        step_kwargs = {"generator": generator}
        if "eta" in self.noise_scheduler.step.__code__.co_varnames:  # DDIM; DDPM's step has no eta
            step_kwargs["eta"] = self.config.ddim_eta
        for t in self.noise_scheduler.timesteps:
            timestep = torch.full((batch_size,), t, dtype=torch.long, device=device)
            model_output = self.unet(sample, timestep, global_cond=global_cond)
            sample = self.noise_scheduler.step(model_output, t, sample, **step_kwargs).prev_sample
        return sample


class KitDiffusionPolicy(DiffusionPolicy):
    config_class = KitDiffusionConfig
    name = "kit_diffusion"

    def __init__(self, config: KitDiffusionConfig, **kwargs) -> None:
        PreTrainedPolicy.__init__(self, config)  # DiffusionPolicy.__init__ would build lerobot's model too
        config.validate_features()
        self.config = config
        self._queues = None
        self.diffusion = KitDiffusionModel(config)
        self.reset()

    def _crop_and_resize(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Each camera image cropped, then resized, as the kit's policy does before queueing it."""
        crop, resize = self.config.crop_shape, self.config.resize_shape
        if crop is None and resize is None:
            return batch
        batch = dict(batch)
        for key in self.config.image_features:
            image = batch[key]
            if crop is not None:
                h, w = (int(d) for d in crop)
                if self.training and self.config.crop_is_random:
                    top = int(torch.randint(0, image.shape[-2] - h + 1, ()))
                    left = int(torch.randint(0, image.shape[-1] - w + 1, ()))
                    image = tvf.crop(image, top, left, h, w)
                else:
                    image = tvf.center_crop(image, [h, w])
            if resize is not None:
                image = tvf.resize(image, [int(d) for d in resize], interpolation=InterpolationMode.BILINEAR)
            batch[key] = image
        return batch

    @torch.no_grad()
    def select_action(self, batch: dict[str, Tensor], noise: Tensor | None = None) -> Tensor:
        return super().select_action(self._crop_and_resize(batch), noise=noise)

    @torch.no_grad()
    def predict_action_chunk(self, batch: dict[str, Tensor], noise: Tensor | None = None) -> Tensor:
        if not any(len(q) > 0 for q in self._queues.values()):  # offline call: raw images, not queued ones
            batch = self._crop_and_resize(batch)
        return super().predict_action_chunk(batch, noise=noise)

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, None]:
        return super().forward(self._crop_and_resize(batch))
