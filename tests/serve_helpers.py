"""`kuavo serve` as a real subprocess, a raw client of the kit's wire protocol, and the kit's 3.10 env."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
import zmq

READY_RE = re.compile(r"ready on tcp://127\.0\.0\.1:(\d+)")
KIT_ENV = Path(os.environ.get("KUAVO_KIT_ENV", Path.home() / ".cache" / "kuavo" / "kit-env-lerobot-0.4.2"))
KIT_PYZMQ = "27.1.0"  # the kit's requirements_total.txt pin


class ServeProcess:
    """`python -m kuavo_cli serve ARGS --port 0`, stderr kept in a file; stop() is idempotent."""

    def __init__(self, checkpoint: Path, log: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.log_path = log
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kuavo_cli",
                "serve",
                str(checkpoint),
                "--port",
                "0",
                "--device",
                "cpu",
                *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
        )
        self.port = self._wait_ready()

    def _wait_ready(self, timeout_s: float = 180) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            match = READY_RE.search(self.log())
            if match:
                return int(match.group(1))
            if self.proc.poll() is not None:
                raise RuntimeError(f"kuavo serve exited {self.proc.returncode}:\n{self.log()[-3000:]}")
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"kuavo serve not ready in {timeout_s} s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def raw_call(port: int, payload: bytes, timeout_ms: int = 20000) -> Any:
    """One REQ/REP round trip with bytes we built ourselves; None when no reply came in time."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"tcp://127.0.0.1:{port}")
    try:
        sock.send(payload)
        if not sock.poll(timeout_ms, zmq.POLLIN):
            return None
        return torch.load(io.BytesIO(sock.recv()), weights_only=True)
    finally:
        sock.close(linger=0)
        ctx.term()


def kit_request(endpoint: str, data: Any = None, token: str | None = None) -> bytes:
    """A request exactly as the kit's client frames it: a torch.save'd dict."""
    request: dict[str, Any] = {"endpoint": endpoint}
    if data is not None:
        request["data"] = data
    if token:
        request["api_token"] = token
    buffer = io.BytesIO()
    torch.save(request, buffer)
    return buffer.getvalue()


def port_is_free(port: int) -> bool:
    """True when a new server could listen there (SO_REUSEADDR, as ZeroMQ binds: TIME_WAIT is not "in use")."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def kit_python_with_zmq() -> tuple[str, dict[str, str]] | str:
    """(python, extra env) of the kit's Python 3.10 + lerobot 0.4.2 env with pyzmq, or why there is none.

    The kit helper's env (scripts/ensure_kit_env.sh) may lack pyzmq; then the kit's pinned pyzmq is installed
    once into a cached folder beside it and put on PYTHONPATH, leaving that env untouched.
    """
    python = KIT_ENV / "bin" / "python"
    if not python.exists():
        return f"no kit env at {KIT_ENV} (scripts/ensure_kit_env.sh builds it)"
    if subprocess.run([python, "-c", "import zmq"], capture_output=True).returncode == 0:
        return str(python), {}
    overlay = KIT_ENV.parent / f"kit-env-pyzmq-{KIT_PYZMQ}"
    if not (overlay / "zmq").is_dir():
        tmp = overlay.with_name(overlay.name + f".partial-{os.getpid()}")
        proc = subprocess.run(
            [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", tmp,
             f"pyzmq=={KIT_PYZMQ}"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if proc.returncode != 0:
            return f"pyzmq=={KIT_PYZMQ} could not be installed for the kit env: {proc.stderr.strip()[-300:]}"
        os.replace(tmp, overlay)
    return str(python), {"PYTHONPATH": str(overlay)}
