"""The "policy loads" step of `kuavo export --check`: run the package's own smoke test, as the image would.

in-process: `python kuavo_submission/infer.py --device cpu` in the kit's env (Python 3.10 + lerobot 0.4.2)
when one is found, else in this Python; without the kit's code there, a `diffusion` package loads through
kuavo's stand-in for the kit's Diffusion wrapper (kit_diffusion_standin.py, passed as KUAVO_KIT_STANDIN). client: the package's vendored `kuavo serve` (PYTHONPATH=
kuavo_submission/serve/src) on a free loopback port with a fresh token, then the package's infer.py through
the package's drop-in PolicyClient; the server is stopped with SIGTERM afterwards.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KIT_ENV_DEFAULT = Path.home() / ".cache" / "kuavo" / "kit-env-lerobot-0.4.2"
SMOKE_TIMEOUT_S = 300
DIFFUSION_STANDIN = Path(__file__).with_name("kit_diffusion_standin.py")  # runs in the kit's Python
READY_RE = re.compile(r"ready on tcp://127\.0\.0\.1:(\d+)")


def find_kit_python(explicit: str | None = None, need: str = "lerobot") -> tuple[str, str]:
    """(python, description): the kit env's interpreter if it imports `need`, else this interpreter."""
    candidates = [explicit] if explicit else []
    if os.environ.get("KUAVO_KIT_PYTHON"):
        candidates.append(os.environ["KUAVO_KIT_PYTHON"])
    env_dir = Path(os.environ.get("KUAVO_KIT_ENV", KIT_ENV_DEFAULT))
    candidates.append(str(env_dir / "bin" / "python"))
    for python in candidates:
        if not python or not Path(python).exists():
            continue
        probe = subprocess.run(
            [
                python,
                "-c",
                f"import sys, {need}, lerobot; print(sys.version.split()[0], lerobot.__version__)",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if probe.returncode == 0:
            version, lerobot_version = probe.stdout.split()
            return python, f"the kit env (Python {version}, lerobot {lerobot_version})"
    return sys.executable, f"this Python (no kit env with {need} found; scripts/ensure_kit_env.sh builds one)"


def last_words(text: str) -> str:
    """The last line that says something (not a rich box border)."""
    lines = [ln.strip(" │╭╮╰╯─") for ln in text.splitlines()]
    lines = [ln for ln in lines if any(ch.isalpha() for ch in ln)]
    return lines[-1] if lines else "no output"


def run_smoke_test(pkg: Path, mode: str, kit_python: str | None = None) -> tuple[bool, str]:
    pkg = pkg.resolve()  # the vendored PYTHONPATH must not depend on the working directory
    if mode == "client":
        return _client_smoke_test(pkg, kit_python)
    python, where = find_kit_python(kit_python)
    kit_type = json.loads((pkg / "kuavo_submission" / "policy.json").read_text()).get("policy_type")
    if kit_type == "diffusion" and python == sys.executable:
        # the kit's custom_diffusion config is lerobot 0.4.2's DiffusionConfig: lerobot 0.6.1 cannot parse it
        return False, (
            "a diffusion package loads only in the kit's Python 3.10 + lerobot 0.4.2 env, and none was found: "
            "run scripts/ensure_kit_env.sh or set KUAVO_KIT_PYTHON"
        )
    # outside the kit, a `diffusion` package loads through kuavo's stand-in for the kit's wrapper (not shipped)
    ok, detail = _infer(pkg, python, {"KUAVO_KIT_STANDIN": str(DIFFUSION_STANDIN)}, ["--device", "cpu"])
    return ok, f"kuavo_submission/infer.py in {where}: {detail}"


def _infer(pkg: Path, python: str, env: dict[str, str], args: list[str]) -> tuple[bool, str]:
    try:
        proc = subprocess.run(
            [python, "kuavo_submission/infer.py", *args],
            cwd=pkg,
            capture_output=True,
            text=True,
            timeout=SMOKE_TIMEOUT_S,
            env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
        )
    except subprocess.TimeoutExpired:
        return False, f"no answer within {SMOKE_TIMEOUT_S} s"
    if proc.returncode != 0:
        return False, f"failed (exit {proc.returncode}): {last_words(proc.stderr)}"
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        shape = result["action_shape"]
    except (json.JSONDecodeError, KeyError, IndexError, TypeError):
        return False, f"printed no action: {proc.stdout[-200:]!r}"
    by = f" (loaded by {result['loaded_by']})" if result.get("loaded_by") else ""
    return True, f"one action of shape {shape}{by}"


def _client_smoke_test(pkg: Path, kit_python: str | None) -> tuple[bool, str]:
    info = json.loads((pkg / "kuavo_submission" / "policy.json").read_text())
    served = f"outputs/train/{info['task']}/{info['method']}/{info['timestamp']}/epoch{info['epoch']}"
    token = secrets.token_hex(16)
    log = Path(tempfile.mkstemp(prefix="kuavo-check-serve-", suffix=".log")[1])
    env = {**os.environ, "PYTHONPATH": str(pkg / "kuavo_submission" / "serve" / "src"), "HF_HUB_OFFLINE": "1"}
    env["KUAVO_SERVE_TOKEN"] = token
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "kuavo_cli", "serve", served, "--port", "0", "--device", "cpu"],
            cwd=pkg,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            env=env,
        )
    try:
        port = _wait_ready(server, log)
        if port is None:
            return False, f"the package's kuavo serve did not start: {last_words(log.read_text())}"
        python, where = find_kit_python(kit_python, need="zmq")
        ok, detail = _infer(
            pkg,
            python,
            {
                "KUAVO_SERVE_PORT": str(port),
                "KUAVO_SERVE_TOKEN": token,
                "KUAVO_SERVE_STARTUP_TIMEOUT_S": "60",
            },
            [],
        )
        return ok, f"package's kuavo serve {served} + kuavo_submission/infer.py in {where}: {detail}"
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log.unlink(missing_ok=True)


def _wait_ready(server: subprocess.Popen, log: Path, timeout_s: float = 180) -> int | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        match = READY_RE.search(log.read_text(errors="replace"))
        if match:
            return int(match.group(1))
        if server.poll() is not None:
            return None
        time.sleep(0.2)
    return None
