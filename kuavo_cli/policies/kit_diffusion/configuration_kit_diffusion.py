"""The `kit_diffusion` config: lerobot's DiffusionConfig plus the kit's `custom` settings kuavo supports.

The competition kit (LejuRobotics/kuavo_data_challenge, branch icra) deploys Diffusion with its own wrapper,
whose network differs from lerobot's DiffusionPolicy: the camera features pass a self-attention layer over the
cameras, the ResNet encoder is nested one module deeper, images are cropped and then resized by the policy (not
the encoder), and the conditioning puts image features before the state. Its config type `custom_diffusion`
is lerobot 0.4.2's DiffusionConfig plus a `custom` dict whose keys become attributes.

kuavo supports the wrapper's UNet configuration without depth: `custom` = {use_depth: false, use_unet: true,
use_transformer: false, state_fuse: false} plus the fields below. The kit's shipped default
(configs/policy/diffusion_config.yaml: use_transformer + use_depth + use_state_encoder) needs its transformer
and depth encoders, which kuavo does not build; train that configuration with the kit itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from lerobot.configs import PreTrainedConfig
from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig


@PreTrainedConfig.register_subclass("kit_diffusion")
@dataclass
class KitDiffusionConfig(DiffusionConfig):
    """DiffusionConfig with the kit's image pipeline and conditioning. Field meanings that differ:

    crop_shape: (H, W) crop applied to each camera image first (random while training when crop_is_random,
        centred otherwise); None keeps the full image.
    resize_shape: (H, W) the crop is then resized to (bilinear), as the kit does; None keeps the crop's size.
        (lerobot's own Diffusion resizes before cropping and derives crop_shape from crop_ratio; this policy
        follows the kit's order, so crop_ratio must stay 1.0.)
    use_state_encoder / state_feature_dim: encode the state with a 2-layer MLP before conditioning.
    rgb_attn_heads: heads of the self-attention over camera features (2 * spatial_softmax_num_keypoints must
        be divisible by it).
    ddim_eta: the eta the kit passes to a DDIM scheduler's step (unused with DDPM).
    """

    use_separate_rgb_encoder_per_camera: bool = False  # the kit's shipped setting (lerobot's is True)
    use_state_encoder: bool = False
    state_feature_dim: int = 128
    rgb_attn_heads: int = 8
    ddim_eta: float = 0.0

    def __post_init__(self) -> None:
        # The parent turns resize_shape into a crop_shape (resize -> crop); here crop comes first, then resize.
        resize_shape, self.resize_shape = self.resize_shape, None
        super().__post_init__()
        self.resize_shape = tuple(resize_shape) if resize_shape is not None else None
        if self.crop_ratio != 1.0:
            raise ValueError("kit_diffusion crops with crop_shape (the kit's way); leave crop_ratio at 1.0")
        for name in ("crop_shape", "resize_shape"):
            shape = getattr(self, name)
            if shape is not None and (len(shape) != 2 or any(int(d) <= 0 for d in shape)):
                raise ValueError(f"`{name}` must be a pair of positive integers (H, W). Got {shape}.")
        if self.compile_model:
            raise ValueError("kit_diffusion does not support compile_model (the kit loads plain weights)")
        if (2 * self.spatial_softmax_num_keypoints) % self.rgb_attn_heads != 0:
            raise ValueError(
                f"rgb_attn_heads={self.rgb_attn_heads} must divide the camera feature size "
                f"2 * spatial_softmax_num_keypoints = {2 * self.spatial_softmax_num_keypoints}"
            )
        if self.state_feature_dim <= 0:
            raise ValueError(f"`state_feature_dim` must be positive. Got {self.state_feature_dim}.")

    def validate_features(self) -> None:
        if not self.image_features:
            raise ValueError("kit_diffusion needs at least one camera (the kit's wrapper encodes images)")
        if self.robot_state_feature is None:
            raise ValueError("kit_diffusion needs observation.state among the inputs")
        first_key, first = next(iter(self.image_features.items()))
        for key, feature in self.image_features.items():
            if feature.shape != first.shape:
                raise ValueError(
                    f"`{key}` does not match `{first_key}`; all camera images must share a shape"
                )
        if self.crop_shape is not None and (
            self.crop_shape[0] > first.shape[1] or self.crop_shape[1] > first.shape[2]
        ):
            raise ValueError(f"`crop_shape` {self.crop_shape} does not fit the images {first.shape}")

    @property
    def encoder_input_hw(self) -> tuple[int, int]:
        """(H, W) of the images the ResNet sees: after the crop and the resize."""
        if self.resize_shape is not None:
            return tuple(int(d) for d in self.resize_shape)
        if self.crop_shape is not None:
            return tuple(int(d) for d in self.crop_shape)
        return tuple(next(iter(self.image_features.values())).shape[1:])
