"""Terminal behaviour: no escape codes without a terminal, no colour with NO_COLOR, shell completion installs."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


# ---- colour: off without a terminal, and NO_COLOR honoured at one ----------------------------------------
ESCAPE = re.compile(r"\x1b\[([0-9;]*)m")
VALIDATE = ["config", "validate", "templates/examples/config_multi_gpu.yaml"]


def _colour_codes(text: str) -> set[str]:
    """SGR parameters that set a colour (30-38, 40-48, 90-97, 100-107); bold / dim are not colour."""
    codes = set()
    for params in ESCAPE.findall(text):
        for p in params.split(";"):
            if p.isdigit() and (30 <= int(p) <= 38 or 40 <= int(p) <= 48 or 90 <= int(p) <= 107):
                codes.add(p)
    return codes


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    return {**env, "TERM": "xterm-256color", **extra}


def _in_terminal(args: list[str], **extra: str) -> str:
    import pexpect

    child = pexpect.spawn(
        sys.executable, ["-m", "kuavo_cli", *args], env=_env(**extra), cwd=str(REPO_ROOT),
        dimensions=(40, 120), encoding="utf-8", timeout=240,
    )  # fmt: skip
    out = child.read()
    child.close()
    assert child.exitstatus == 0, out
    return out


@pytest.mark.parametrize("args", [["--help"], VALIDATE], ids=["help", "config-validate"])
def test_no_escape_codes_without_a_terminal(args):
    proc = subprocess.run(
        [sys.executable, "-m", "kuavo_cli", *args], capture_output=True, text=True, env=_env(),
        cwd=REPO_ROOT, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout + proc.stderr and "\x1b" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("args", [["--help"], VALIDATE], ids=["help", "config-validate"])
def test_no_color_is_honoured_in_a_terminal(args):
    assert _colour_codes(_in_terminal(args)), "expected colour in a terminal without NO_COLOR"
    assert not _colour_codes(_in_terminal(args, NO_COLOR="1"))


# ---- shell completion installs and completes ------------------------------------------------------------
def test_install_completion_bash(tmp_path):
    env = {**_env(), "HOME": str(tmp_path), "SHELL": "/bin/bash"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # `kuavo` of this venv
    proc = subprocess.run(
        [sys.executable, "-m", "kuavo_cli", "--install-completion"], capture_output=True, text=True, env=env,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / ".bash_completions" / "kuavo.sh"
    assert script.exists() and str(script) in (tmp_path / ".bashrc").read_text()
    complete = (
        f"source {shlex.quote(str(script))}; COMP_WORDS=(kuavo config v); COMP_CWORD=2; "
        'COMPREPLY=(); _kuavo_completion kuavo; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    out = subprocess.run(["bash", "-c", complete], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.split() == ["validate"], out.stdout + out.stderr
