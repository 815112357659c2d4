"""Drop-in `PolicyClient` for the competition kit's deploy loop, talking to `kuavo serve` over ZeroMQ.

This file is self-contained (standard library + torch + pyzmq, Python >= 3.10) so it can replace the kit's
`kuavo_deploy/kuavo_service/client.py`: `kuavo export --format kit --client` and `--format submission` put
it there. With `inference.policy_type: client` the kit's loop then does

    policy = PolicyClient(); policy.eval(); policy.to(device); policy.reset(); policy.config.n_obs_steps
    action = postprocessor(policy.select_action(preprocessor(observation)))       # every step
    policy.reset()                                                                 # between episodes

and the policy itself (any lerobot 0.6.1 policy, with its own normalisation) runs in `kuavo serve`. The
kit-side pre/post processors exported beside it are pass-through, so observations travel raw.

Wire format (the kit's): one ZeroMQ REQ/REP message each way, a `torch.save`d object. Requests are
`{"endpoint": name, "data": ..., "api_token": ...}`; replies are the endpoint's result or `{"error": text}`.
Unlike the kit's own client, both directions are decoded with `torch.load(weights_only=True)`, which
rebuilds only tensors, numbers, strings and containers, never arbitrary pickled objects.

Settings come from the constructor or, because the kit calls `PolicyClient()` with no arguments, from
the environment: KUAVO_SERVE_HOST (127.0.0.1), KUAVO_SERVE_PORT (5555), KUAVO_SERVE_TOKEN (or KUAVO_SERVE_TOKEN_FILE),
KUAVO_SERVE_TIMEOUT_MS (15000, per call), KUAVO_SERVE_STARTUP_TIMEOUT_S (300, how long the constructor
waits for a server that is still loading), KUAVO_SERVE_MAX_MESSAGE_MB (64).
"""

from __future__ import annotations

import io
import os
import time
from types import SimpleNamespace
from typing import Any

import torch
import zmq

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5555
DEFAULT_TIMEOUT_MS = 15000
DEFAULT_STARTUP_TIMEOUT_S = 300.0
DEFAULT_MAX_MESSAGE_MB = 64
# What the client forwards from the kit's (pass-through) preprocessor output: the observation tensors and
# the language instruction VLA policies read; lerobot's transition bookkeeping (next.reward, info, ...) stays.
FORWARDED_KEYS = ("task",)


class ServerError(RuntimeError):
    """The server answered `{"error": ...}`: a refused or failed request."""


def encode(obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def decode(data: bytes) -> Any:
    """The inverse of `encode` for plain data only (weights_only: no code runs while decoding)."""
    return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")


def _env(name: str, default: Any, cast: Any) -> Any:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        return cast(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not a valid {cast.__name__}") from None


def _token_from_env() -> str | None:
    """KUAVO_SERVE_TOKEN, else the file KUAVO_SERVE_TOKEN_FILE names (a submission image writes one)."""
    token = os.environ.get("KUAVO_SERVE_TOKEN", "")
    path = os.environ.get("KUAVO_SERVE_TOKEN_FILE", "")
    if not token and path and os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    return token or None


class PolicyClient:
    """What the kit's loop calls on a policy, answered by a `kuavo serve` process."""

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        api_token: str | None = None,
        timeout_ms: int | None = None,
        startup_timeout_s: float | None = None,
        max_message_mb: float | None = None,
    ) -> None:
        self.host = host or _env("KUAVO_SERVE_HOST", DEFAULT_HOST, str)
        self.port = int(port if port is not None else _env("KUAVO_SERVE_PORT", DEFAULT_PORT, int))
        self.api_token = api_token if api_token is not None else _token_from_env()
        self.timeout_ms = int(
            timeout_ms if timeout_ms is not None else _env("KUAVO_SERVE_TIMEOUT_MS", DEFAULT_TIMEOUT_MS, int)
        )
        startup = (
            startup_timeout_s
            if startup_timeout_s is not None
            else _env("KUAVO_SERVE_STARTUP_TIMEOUT_S", DEFAULT_STARTUP_TIMEOUT_S, float)
        )
        mb = max_message_mb if max_message_mb is not None else _env("KUAVO_SERVE_MAX_MESSAGE_MB", 64, float)
        self.max_message_bytes = int(mb * (1 << 20))
        self.device = torch.device("cpu")
        self._context = zmq.Context()
        self._socket: Any = None
        self._open_socket()
        try:
            self.info = self._wait_for_server(startup)
        except BaseException:
            self.close()
            raise
        # the kit reads policy.config.n_obs_steps (and logs it); the server reports the served policy's config
        self.config = SimpleNamespace(**self.info.get("config", {}))

    @property
    def address(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    # ---- what the kit's setup_policy / episode loop call ------------------------------------------------

    def eval(self) -> PolicyClient:
        return self

    def train(self, mode: bool = True) -> PolicyClient:
        return self

    def to(self, device: Any) -> PolicyClient:
        """Where returned actions are placed; the policy's own device is `kuavo serve --device`."""
        self.device = torch.device(device)
        return self

    def reset(self) -> None:
        """Clear the served policy's action queue and observation history (between episodes)."""
        self.call_endpoint("reset", requires_input=False)

    def select_action(self, observation: dict[str, Any]) -> torch.Tensor:
        data = {
            key: value.detach().cpu() if isinstance(value, torch.Tensor) else value
            for key, value in observation.items()
            if key.startswith("observation.") or key in FORWARDED_KEYS
        }
        action = self.call_endpoint("select_action", data)
        if not isinstance(action, torch.Tensor):
            raise ServerError(
                f"{self.address} answered select_action with {type(action).__name__}, not a tensor"
            )
        return action.to(self.device)

    # ---- the protocol -------------------------------------------------------------------------------------

    def ping(self) -> bool:
        try:
            reply = self.call_endpoint("ping", requires_input=False)
        except (TimeoutError, ServerError):
            return False
        return isinstance(reply, dict) and reply.get("status") == "ok"

    def kill_server(self) -> None:
        """Ask the server to stop (it answers first, then exits)."""
        self.call_endpoint("kill", requires_input=False)

    def call_endpoint(self, endpoint: str, data: Any = None, requires_input: bool = True) -> Any:
        request: dict[str, Any] = {"endpoint": endpoint}
        if requires_input:
            request["data"] = data
        if self.api_token:
            request["api_token"] = self.api_token
        reply = self._round_trip(encode(request), self.timeout_ms)
        if isinstance(reply, dict) and "error" in reply:
            raise ServerError(f"{self.address} refused {endpoint}: {reply['error']}")
        return reply

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
        if not self._context.closed:
            self._context.term()

    def __enter__(self) -> PolicyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # At interpreter shutdown module globals (contextlib, zmq) may already be None: nothing left to close.
        try:  # noqa: SIM105 - contextlib.suppress itself can be gone by then
            self.close()
        except Exception:
            pass

    # ---- internals ----------------------------------------------------------------------------------------

    def _open_socket(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
        self._socket = self._context.socket(zmq.REQ)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.connect(self.address)

    def _round_trip(self, payload: bytes, timeout_ms: int) -> Any:
        if len(payload) > self.max_message_bytes:
            raise ValueError(
                f"request of {len(payload) / (1 << 20):.1f} MiB exceeds the {self.max_message_bytes >> 20} MiB "
                "message limit (raise KUAVO_SERVE_MAX_MESSAGE_MB here and `kuavo serve --max-message-mb`)"
            )
        self._socket.send(payload)
        if not self._socket.poll(timeout_ms, zmq.POLLIN):
            self._open_socket()  # a REQ socket that sent without a reply cannot send again
            raise TimeoutError(
                f"no reply from {self.address} within {timeout_ms} ms (is `kuavo serve` running there? "
                "KUAVO_SERVE_HOST / KUAVO_SERVE_PORT / KUAVO_SERVE_TIMEOUT_MS)"
            )
        return decode(self._socket.recv())

    def _wait_for_server(self, startup_timeout_s: float) -> dict[str, Any]:
        """`info` from the server, retrying while it is still loading the policy."""
        deadline = time.monotonic() + startup_timeout_s
        request = {"endpoint": "info", **({"api_token": self.api_token} if self.api_token else {})}
        while True:
            left_ms = int((deadline - time.monotonic()) * 1000)
            try:
                reply = self._round_trip(encode(request), max(min(self.timeout_ms, left_ms), 100))
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"no `kuavo serve` answered on {self.address} within {startup_timeout_s:g} s "
                        "(start it first: kuavo serve RUN --port PORT; KUAVO_SERVE_STARTUP_TIMEOUT_S)"
                    ) from None
                continue
            if isinstance(reply, dict) and "error" in reply:
                raise ServerError(f"{self.address} refused info: {reply['error']}")
            if not isinstance(reply, dict):
                raise ServerError(
                    f"{self.address} is not a `kuavo serve` (info answered {type(reply).__name__})"
                )
            return reply
