"""Closed-loop simulation for `kuavo eval --sim`: scenes, control, rendering, tasks, episodes, reports.

MuJoCo reads MUJOCO_GL once, when it is first imported, and every module here imports it lazily, so the
offscreen backend is preset on import of this package: EGL where an NVIDIA GPU is, OSMesa otherwise.
`kuavo_cli.sim.render.configure_gl()` then probes it and falls back or names the missing library.
"""

import glob as _glob
import os as _os

if not _os.environ.get("MUJOCO_GL"):
    _os.environ["MUJOCO_GL"] = "egl" if _glob.glob("/dev/nvidia[0-9]*") else "osmesa"
    _os.environ.setdefault("PYOPENGL_PLATFORM", _os.environ["MUJOCO_GL"])
