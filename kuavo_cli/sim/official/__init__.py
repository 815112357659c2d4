"""The ICRA challenge scenes of the official simulator, loaded from the user's own checkout (never vendored)."""

from kuavo_cli.sim.official.layout import ENV_VAR, TASKS
from kuavo_cli.sim.official.loader import load_official_scene

__all__ = ["ENV_VAR", "TASKS", "load_official_scene"]
