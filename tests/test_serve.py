"""`kuavo serve`: real servers (subprocesses on loopback) against the kit's wire protocol and kuavo's drop-in client.

Every server here is a `python -m kuavo_cli serve` subprocess on 127.0.0.1 with a free port; every client loop
is bounded (a dozen steps, timeouts on every receive).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from kuavo_cli.checkpoints import load_policy, resolve_checkpoint
from tests.cli_helpers import run_cli
from tests.serve_helpers import ServeProcess, kit_python_with_zmq, kit_request, port_is_free, raw_call

CAMERAS = ("head_cam_h", "wrist_cam_l", "wrist_cam_r")
LOOP_SCRIPT = Path(__file__).with_name("kit_loop_script.py")


def observation(seed: int) -> dict[str, torch.Tensor]:
    """One step as the kit's env hands it over: batched, state in rad, RGB in [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    obs = {"observation.state": torch.randn(1, 16, generator=gen)}
    for cam in CAMERAS:
        obs[f"observation.images.{cam}"] = torch.rand(1, 3, 48, 64, generator=gen)
    return obs


EPISODES = [[observation(10 * e + i) for i in range(6)] for e in range(2)]


def in_process_actions(run: Path, seed: int | None = None) -> torch.Tensor:
    """The same episodes through lerobot's own pipeline in this process (what the kit does in-process)."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)  # the server runs with OMP_NUM_THREADS=1
    try:
        policy, _cfg, pre, post = load_policy(resolve_checkpoint(run), "cpu")
        out = []
        for episode in EPISODES:
            policy.reset()
            if seed is not None:
                torch.manual_seed(seed)
            for obs in episode:
                with torch.inference_mode():
                    out.append(post(policy.select_action(pre(dict(obs)))).squeeze(0))
        return torch.stack(out)
    finally:
        torch.set_num_threads(saved)


def served_actions(port: int, token: str | None = None) -> torch.Tensor:
    """The kit's protocol, framed by hand: reset, then select_action per step, reset between episodes."""
    out = []
    for episode in EPISODES:
        assert raw_call(port, kit_request("reset", token=token))["status"] == "ok"
        for obs in episode:
            action = raw_call(port, kit_request("select_action", obs, token=token))
            assert isinstance(action, torch.Tensor), action
            out.append(action.squeeze(0))
    return torch.stack(out)


def run_kit_loop(python: str, env: dict[str, str], export: Path, port: int, tmp: Path) -> dict:
    """The kit's client-mode loop with the exported drop-in client, in a separate interpreter."""
    obs_file, out_file = tmp / "episodes.pt", tmp / "actions.pt"
    torch.save(EPISODES, obs_file)
    run_dir = next((export / "outputs" / "train").glob("*/*/*"))
    proc = subprocess.run(
        [python, str(LOOP_SCRIPT), str(export), str(run_dir), str(obs_file), str(out_file)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "KUAVO_SERVE_PORT": str(port), "KUAVO_SERVE_STARTUP_TIMEOUT_S": "30",
             "HF_HUB_OFFLINE": "1", **env},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(out_file, weights_only=True)


def client_export(run: Path, out: Path) -> Path:
    res = run_cli("export", str(run), "--format", "kit", "--client", "--task", "1", "--out", str(out))
    assert res.exit_code == 0, res.stderr
    return out


@pytest.fixture(scope="module")
def act_server(lerobot_act_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    server = ServeProcess(lerobot_act_run, tmp_path_factory.mktemp("serve") / "act.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def act_export(lerobot_act_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return client_export(lerobot_act_run, tmp_path_factory.mktemp("kitc") / "act")


def test_kit_protocol_client_gets_the_in_process_actions(
    act_server: ServeProcess, lerobot_act_run: Path
) -> None:
    ping = raw_call(act_server.port, kit_request("ping"))
    assert ping == {"status": "ok", "message": "Server is running"}
    served = served_actions(act_server.port)
    expected = in_process_actions(lerobot_act_run)
    assert served.shape == expected.shape == (12, 16)
    assert (served - expected).abs().max().item() <= 1e-5
    assert "select_action" in act_server.log() and " ms ok" in act_server.log()  # per-call latency


def test_code_carrying_pickle_is_refused_and_the_server_keeps_serving(
    act_server: ServeProcess, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"

    class Payload:
        def __init__(self, path: Path) -> None:
            self.path = path

        def __reduce__(self):  # unpickling this calls open(path, "w"): code execution by the sender
            return (open, (str(self.path), "w"))

    buf = io.BytesIO()
    torch.save({"endpoint": "select_action", "data": Payload(marker)}, buf)
    evil = buf.getvalue()
    # the payload is real: decoding it the way the kit's own server does runs it
    probe = tmp_path / "probe"
    probe_buf = io.BytesIO()
    torch.save({"endpoint": "ping", "data": Payload(probe)}, probe_buf)
    torch.load(io.BytesIO(probe_buf.getvalue()), weights_only=False)
    assert probe.exists()

    reply = raw_call(act_server.port, evil)
    assert "request refused" in reply["error"] and "weights_only" in reply["error"]
    assert not marker.exists()
    assert raw_call(act_server.port, kit_request("ping"))["status"] == "ok"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not a torch file", "request refused"),
        (kit_request("no_such_endpoint"), "unknown endpoint"),
        (kit_request("select_action", {"observation.state": torch.zeros(1, 16)}), "lacks observation.images"),
        (
            kit_request("select_action", {**observation(0), "observation.state": torch.zeros(1, 14)}),
            "shape [1, 14]",
        ),
    ],
    ids=["garbage", "endpoint", "missing-camera", "state-14"],
)
def test_bad_requests_get_an_error_reply(act_server: ServeProcess, payload: bytes, message: str) -> None:
    reply = raw_call(act_server.port, payload)
    assert isinstance(reply, dict) and message in reply["error"]
    assert raw_call(act_server.port, kit_request("ping"))["status"] == "ok"


@pytest.mark.parametrize("interpreter", ["python3.12", "kit-python3.10"])
def test_dropin_client_runs_the_kit_loop(
    act_server: ServeProcess, act_export: Path, lerobot_act_run: Path, tmp_path: Path, interpreter: str
) -> None:
    if interpreter == "python3.12":
        python, env = sys.executable, {}
    else:
        found = kit_python_with_zmq()
        if isinstance(found, str):
            pytest.skip(found)
        python, env = found
    result = run_kit_loop(python, env, act_export, act_server.port, tmp_path)
    assert result["n_obs_steps"] == 1 and result["pre_steps"] == 0 and result["post_steps"] == 0
    if interpreter != "python3.12":
        assert result["python"].startswith("3.10") and result["lerobot"] == "0.4.2"
    expected = in_process_actions(lerobot_act_run)
    assert (result["actions"] - expected).abs().max().item() <= 1e-5


def test_diffusion_served_with_a_seed_matches_and_sigterm_stops_it(
    lerobot_diffusion_run: Path, tmp_path: Path
) -> None:
    export = client_export(lerobot_diffusion_run, tmp_path / "kitc")
    server = ServeProcess(lerobot_diffusion_run, tmp_path / "diffusion.log", "--seed", "0")
    try:
        expected = in_process_actions(lerobot_diffusion_run, seed=0)
        served = served_actions(server.port)
        assert (served - expected).abs().max().item() <= 1e-5
        found = kit_python_with_zmq()
        python, env = found if not isinstance(found, str) else (sys.executable, {})
        result = run_kit_loop(python, env, export, server.port, tmp_path)
        assert result["n_obs_steps"] == 2
        assert (result["actions"] - expected).abs().max().item() <= 1e-5
        assert server.proc.poll() is None
        server.proc.send_signal(signal.SIGTERM)
        assert server.wait() == 0
    finally:
        server.stop()
    assert port_is_free(server.port)
    assert "stopped after" in server.log() and "select_action n=" in server.log()


def test_token_size_limit_and_kill(lerobot_act_run: Path, act_export: Path, tmp_path: Path) -> None:
    token = "s3cret-token"
    server = ServeProcess(lerobot_act_run, tmp_path / "token.log", "--max-message-mb", "1",
                          env={"KUAVO_SERVE_TOKEN": token})  # fmt: skip
    try:
        port = server.port
        assert "Unauthorized" in raw_call(port, kit_request("ping"))["error"]
        assert "Unauthorized" in raw_call(port, kit_request("ping", token="s3cret-tokex"))["error"]
        assert raw_call(port, kit_request("ping", token=token))["status"] == "ok"
        big = kit_request("select_action", {"observation.state": torch.zeros(1, 400_000)}, token=token)
        assert len(big) > 1 << 20
        assert raw_call(port, big, timeout_ms=3000) is None  # dropped by ZeroMQ before it is read
        assert raw_call(port, kit_request("ping", token=token))["status"] == "ok"

        sys.path.insert(0, str(act_export))
        try:
            from kuavo_deploy.kuavo_service.client import PolicyClient, ServerError
        finally:
            sys.path.remove(str(act_export))
        with pytest.raises(ServerError, match="Unauthorized"):
            PolicyClient(port=port, api_token="wrong", startup_timeout_s=10)
        client = PolicyClient(port=port, api_token=token, startup_timeout_s=10, max_message_mb=1)
        with pytest.raises(ValueError, match="exceeds the 1 MiB message limit"):
            client.select_action({"observation.state": torch.zeros(1, 400_000)})
        assert client.ping()
        client.kill_server()
        client.close()
        assert server.wait() == 0
    finally:
        server.stop()
    assert port_is_free(port)
    assert "3 refused" in server.log()  # no token, wrong token, wrong-token client


def test_serve_usage_errors(lerobot_act_run: Path, tmp_path: Path) -> None:
    res = run_cli("serve", str(tmp_path / "nope"))
    assert res.exit_code == 2 and "does not exist" in res.stderr
    res = run_cli("serve", str(lerobot_act_run), "--device", "tpu")
    assert res.exit_code == 2 and "--device" in res.stderr
    res = run_cli("serve", str(lerobot_act_run), "--port", "70000", "--device", "cpu")
    assert res.exit_code == 2 and "--port" in res.stderr
    with socket.socket() as taken:  # a port in use fails at once, before the policy is loaded
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        res = run_cli("serve", str(lerobot_act_run), "--port", str(taken.getsockname()[1]), "--device", "cpu")
    assert res.exit_code == 1 and "cannot listen on" in res.stderr and "pick another --port" in res.stderr


def test_serve_refuses_a_damaged_checkpoint(lerobot_act_run: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "damaged"
    shutil.copytree(lerobot_act_run / "checkpoints" / "last" / "pretrained_model", ckpt)
    with (ckpt / "model.safetensors").open("r+b") as f:
        f.truncate(1000)  # an interrupted copy
    res = run_cli("serve", str(ckpt), "--port", "0", "--device", "cpu")
    assert res.exit_code == 1 and "model.safetensors" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) <= 2, res.stderr
