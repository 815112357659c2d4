"""The competition kit's Python: a cached Python 3.10 env with lerobot 0.4.2 (scripts/ensure_kit_env.sh).

`make test` builds it before pytest starts, so no test's timeout covers the one-time pip install; the fixture
calls the same idempotent script as a fallback (a cached env answers in well under a second).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ENSURE_SCRIPT = REPO_ROOT / "scripts" / "ensure_kit_env.sh"
NO_PYTHON_310 = 3  # the script's exit code when this machine has no Python 3.10


def ensure_kit_python() -> Path:
    """The env's python; skips (only) when no Python 3.10 exists, fails when the install does."""
    proc = subprocess.run(["bash", str(ENSURE_SCRIPT)], capture_output=True, text=True, timeout=3600)
    if proc.returncode == NO_PYTHON_310:
        pytest.skip(f"no Python 3.10 for the kit's lerobot 0.4.2 env: {proc.stderr.strip()}")
    assert proc.returncode == 0, f"scripts/ensure_kit_env.sh failed:\n{proc.stderr[-3000:]}"
    python = Path(proc.stdout.strip().splitlines()[-1]) / "bin" / "python"
    assert python.exists(), proc.stdout
    return python


def run_kit_script(python: Path, script: Path, *args: str, timeout: int = 300) -> dict[str, Any]:
    """Run `script` with the kit env's python (offline, one thread); its last stdout line is a JSON result."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "VIRTUAL_ENV")) and k not in ("PYTEST_CURRENT_TEST",)
    }
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", WANDB_MODE="disabled")
    proc = subprocess.run(
        [str(python), str(script), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=script.parent,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{script.name} failed in the kit env:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])
