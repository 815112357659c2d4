"""Policy types kuavo adds to lerobot's registry (trained with lerobot's own machinery)."""

from __future__ import annotations

# What register() adds: lerobot alone does not know these names, so every place kuavo looks a policy class up
# (config validation, checkpoint loading) calls register() first, and an exported model card says to.
KUAVO_POLICY_TYPES = ("kit_diffusion",)


def register() -> None:
    """Register kuavo's policy config types with lerobot (idempotent: importing registers them once)."""
    from kuavo_cli.policies.kit_diffusion import configuration_kit_diffusion  # noqa: F401
