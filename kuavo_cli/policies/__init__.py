"""Policy types kuavo adds to lerobot's registry (trained with lerobot's own machinery)."""

from __future__ import annotations


def register() -> None:
    """Register kuavo's policy config types with lerobot (idempotent: importing registers them once)."""
    from kuavo_cli.policies.kit_diffusion import configuration_kit_diffusion  # noqa: F401
