"""Run the real `kuavo` entry point in-process (same error handling as the console script) or as a subprocess."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict | None = None) -> Result:
    """`kuavo ARGS` in this process through `main()`, capturing stdout and stderr."""
    from kuavo_cli.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return Result(code, out.getvalue(), err.getvalue())


def run_subprocess(
    *args: str, env: dict | None = None, cwd: Path | None = None, timeout: int = 600
) -> Result:
    """`python -m kuavo_cli ARGS` in a fresh process (what a user runs)."""
    proc = subprocess.run(
        [sys.executable, "-m", "kuavo_cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
