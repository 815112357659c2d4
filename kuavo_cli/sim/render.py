"""Offscreen rendering: EGL where a GPU is, OSMesa on CPU, chosen before MuJoCo is imported.

MuJoCo picks its OpenGL backend from `MUJOCO_GL` once, at import, so `configure_gl()` must run before the
first `import mujoco` in a process. The choice is probed in a child process (a failing EGL can abort the
process that tries it) and passed to worker processes through the environment.
"""

from __future__ import annotations

import ctypes.util
import glob
import os
import subprocess
import sys

import numpy as np

from kuavo_cli.errors import KuavoError

BACKENDS = ("egl", "osmesa")
# The library each backend loads, and the Debian/Ubuntu package that provides it.
LIBRARIES = {"egl": ("EGL", "libegl1 (plus the NVIDIA driver's EGL)"), "osmesa": ("OSMesa", "libosmesa6")}
_PROBE = (
    "import mujoco\n"
    "m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><geom size=\".1\"/></worldbody></mujoco>')\n"
    "r = mujoco.Renderer(m, 8, 8); d = mujoco.MjData(m); mujoco.mj_forward(m, d)\n"
    "r.update_scene(d); r.render(); r.close()\n"
)
_chosen: str | None = None


def _gpu_present() -> bool:
    return bool(glob.glob("/dev/nvidia[0-9]*"))


def _works(backend: str) -> bool:
    env = {**os.environ, "MUJOCO_GL": backend, "PYOPENGL_PLATFORM": backend}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE], env=env, capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def missing_library_message(tried: list[str]) -> str:
    parts = []
    for backend in tried:
        lib, package = LIBRARIES[backend]
        found = ctypes.util.find_library(lib)
        state = "found but failed to start" if found else "not found"
        parts.append(f"{backend}: lib{lib} {state} (apt-get install {package})")
    return (
        "no offscreen OpenGL for MuJoCo: " + "; ".join(parts) + "; scripts/ensure_osmesa.sh installs OSMesa"
    )


def configure_gl() -> str:
    """Check (once per process) the MUJOCO_GL backend and export it; raise one line naming what is missing.

    Before MuJoCo is imported a failing EGL falls back to OSMesa; afterwards only the imported choice can work.
    """
    global _chosen
    if _chosen:
        return _chosen
    wanted = os.environ.get("MUJOCO_GL", "").lower()
    if wanted in BACKENDS and os.environ.get("KUAVO_SIM_GL_OK") == wanted:
        _chosen = wanted  # a parent process already probed it
        return wanted
    if wanted in BACKENDS:
        candidates = [wanted] if "mujoco" in sys.modules else list(dict.fromkeys([wanted, "osmesa"]))
    else:
        candidates = ["egl", "osmesa"] if _gpu_present() else ["osmesa"]
    if "mujoco" in sys.modules and wanted not in BACKENDS:
        raise KuavoError(
            f"MuJoCo was imported with MUJOCO_GL={wanted or 'unset'} (no offscreen rendering); "
            "import kuavo_cli.sim before mujoco, or set MUJOCO_GL=osmesa (CPU) or egl (GPU)"
        )
    for backend in candidates:
        if _works(backend):
            os.environ["MUJOCO_GL"] = os.environ["PYOPENGL_PLATFORM"] = backend
            os.environ["KUAVO_SIM_GL_OK"] = backend
            _chosen = backend
            return backend
    raise KuavoError(missing_library_message(candidates))


class CameraRenderer:
    """Renders the scene's cameras at one size (H, W) as HxWx3 uint8 frames."""

    def __init__(self, model, height: int, width: int):
        import mujoco

        vis = model.vis.global_
        vis.offwidth, vis.offheight = max(vis.offwidth, width), max(vis.offheight, height)
        self.size = (height, width)
        self._renderer = mujoco.Renderer(model, height, width)

    def render(self, data, camera: str) -> np.ndarray:
        self._renderer.update_scene(data, camera=camera)
        return self._renderer.render().copy()

    def close(self) -> None:
        self._renderer.close()


def jpeg_round_trip(frame: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG, as the robot's CompressedImage topics do before the dataset sees them."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))
