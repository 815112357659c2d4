"""scripts/find_python.sh VERSION and scripts/ensure_kit_env.sh, run as the set-up runs them (real bash)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.kit_env import ENSURE_SCRIPT, NO_PYTHON_310, REPO_ROOT

FIND = REPO_ROOT / "scripts" / "find_python.sh"
BARE = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}  # no pyenv, no ~/.pyenv: only system Pythons


def run(script: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True, env=env, timeout=60)


def python_version(command: str) -> str:
    out = subprocess.run(
        [*command.split(), "-c", "import sys; print(*sys.version_info[:2], sep='.')"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout.strip()


def test_find_python_takes_a_version_and_keeps_312_as_default() -> None:
    default = run(FIND)
    assert default.returncode == 0 and python_version(default.stdout.strip()) == "3.12"
    assert run(FIND, "3.12").stdout == default.stdout
    missing = run(FIND, "3.99")
    assert missing.returncode == 1 and "Python 3.99 not found" in missing.stderr and missing.stdout == ""
    bad = run(FIND, "latest")
    assert bad.returncode == 2 and "like 3.12" in bad.stderr


def test_find_python_310_when_present() -> None:
    found = run(FIND, "3.10")
    if found.returncode == 0:
        assert python_version(found.stdout.strip()) == "3.10"
    else:
        assert "Python 3.10 not found" in found.stderr and "lerobot 0.4.2" in found.stderr


def test_ensure_kit_env_without_python_310_says_so_and_reuses_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "env"
    (dest / "bin").mkdir(parents=True)  # a half-built env (no stamp) must never be reported ready
    (dest / "bin" / "python").symlink_to("/usr/bin/python3")
    if run(FIND, "3.10", env=BARE).returncode == 0:
        pytest.skip("this machine has a system Python 3.10: the no-3.10 path cannot be shown here")
    res = run(ENSURE_SCRIPT, env={**BARE, "KUAVO_KIT_ENV": str(dest)})
    assert res.returncode == NO_PYTHON_310 and res.stdout == ""
    assert "Python 3.10 not found" in res.stderr
