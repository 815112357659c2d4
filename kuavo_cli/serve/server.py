"""The ZeroMQ REP loop of `kuavo serve`: the kit's wire protocol, made safe to expose.

Differences from the kit's own server, on purpose:
- requests are decoded with `torch.load(weights_only=True)` (the kit uses weights_only=False, so any client
  could make it run code); a request that is not plain data gets an error reply;
- ZeroMQ drops messages over `max_message_bytes` before they are read (ZMQ_MAXMSGSIZE);
- the token is compared in constant time and checked before the endpoint is looked at;
- every failure becomes an `{"error": ...}` reply and the loop keeps serving;
- SIGTERM / SIGINT and the `kill` endpoint stop it cleanly: the socket is closed, the port released.
"""

from __future__ import annotations

import hmac
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq

from kuavo_cli.errors import KuavoError, UsageError
from kuavo_cli.serve.dropin_client import decode, encode

DEFAULT_MAX_MESSAGE_MB = 64
POLL_MS = 100  # how often the loop looks at the stop flag while idle
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class LatencyStats:
    """Per-endpoint call durations in ms (the server keeps the last 10k of each)."""

    calls: dict[str, list[float]] = field(default_factory=dict)

    def add(self, endpoint: str, ms: float) -> None:
        samples = self.calls.setdefault(endpoint, [])
        samples.append(ms)
        if len(samples) > 10_000:
            del samples[:5_000]

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for endpoint, samples in self.calls.items():
            ordered = sorted(samples)
            out[endpoint] = {
                "n": len(ordered),
                "p50_ms": round(ordered[len(ordered) // 2], 2),
                "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2),
                "max_ms": round(ordered[-1], 2),
            }
        return out


class PolicyServer:
    """Serve `endpoints` (name -> handler(data) -> reply) on a REP socket; ping and kill are built in."""

    def __init__(
        self,
        endpoints: dict[str, Callable[[Any], Any]],
        host: str = "127.0.0.1",
        port: int = 5555,
        token: str | None = None,
        max_message_mb: float = DEFAULT_MAX_MESSAGE_MB,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise UsageError(f"--port {port} is not a TCP port (0..65535; 0 picks a free one)")
        if not max_message_mb > 0:
            raise UsageError(f"--max-message-mb {max_message_mb} must be > 0")
        self.endpoints = {"ping": self._ping, "kill": self._kill, **endpoints}
        self.host, self.port = host, port
        self._token = token.encode() if token else None
        self.max_message_bytes = int(max_message_mb * (1 << 20))
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.stats = LatencyStats()
        self.requests = 0
        self.refused = 0
        self._stop = threading.Event()
        self._context: Any = None
        self._socket: Any = None
        self.address = ""

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def bind(self) -> str:
        """Open the socket; returns the address actually bound (port 0 -> a free port)."""
        self._context = zmq.Context()
        sock = self._context.socket(zmq.REP)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
        where = f"tcp://{'[' + self.host + ']' if ':' in self.host else self.host}"
        try:
            if ":" in self.host:
                sock.setsockopt(zmq.IPV6, 1)
            if self.port == 0:
                sock.bind_to_random_port(where, min_port=20000, max_port=60000)
            else:
                sock.bind(f"{where}:{self.port}")
        except zmq.ZMQError as err:
            sock.close(linger=0)
            self._context.term()
            raise KuavoError(
                f"cannot listen on {where}:{self.port}: {err}",
                "pick another --port, or stop what already listens there",
            ) from err
        self._socket = sock
        self.address = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.port = int(self.address.rsplit(":", 1)[1])
        return self.address

    def stop(self) -> None:
        self._stop.set()

    def serve_forever(self, handle_signals: bool = True) -> None:
        """Answer requests until stop() / `kill` / SIGTERM / SIGINT; always closes the socket."""
        if self._socket is None:
            self.bind()
        previous = self._install_signal_handlers() if handle_signals else {}
        try:
            while not self._stop.is_set():
                if not self._socket.poll(POLL_MS, zmq.POLLIN):
                    continue
                raw = self._socket.recv()
                self._socket.send(self.handle(raw))
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.close()

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
        if self._context is not None:
            self._context.term()
            self._context = None

    # ---- one request -------------------------------------------------------------------------------------

    def handle(self, raw: bytes) -> bytes:
        """Bytes in, bytes out; never raises (a bad request is answered, not fatal)."""
        start = time.perf_counter()
        endpoint = "?"
        try:
            endpoint, data = self._parse(raw)
            reply = self.endpoints[endpoint](data)
        except RequestRefused as err:
            self.refused += 1
            reply = {"error": str(err)}
        except Exception as err:  # the policy failed on this input: report it, keep serving
            reply = {"error": f"{endpoint} failed: {type(err).__name__}: {err}"}
        try:
            out = encode(reply)
        except Exception as err:
            reply = {"error": f"{endpoint} reply could not be encoded: {err}"}
            out = encode(reply)
        ms = (time.perf_counter() - start) * 1000
        self.requests += 1
        self.stats.add(endpoint, ms)
        status = f"error: {reply['error']}" if isinstance(reply, dict) and "error" in reply else "ok"
        self.log(f"{endpoint} {ms:.1f} ms {status}")
        return out

    def _parse(self, raw: bytes) -> tuple[str, Any]:
        try:
            request = decode(raw)
        except Exception as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise RequestRefused(
                "request refused: not plain torch.save'd data (only tensors, numbers, strings, lists and "
                f"dicts are accepted; weights_only decode said: {first[:200]})"
            ) from err
        if not isinstance(request, dict):
            raise RequestRefused(f"request refused: expected a dict, got {type(request).__name__}")
        if self._token is not None:
            given = request.get("api_token")
            given_bytes = given.encode() if isinstance(given, str) else b""
            if not hmac.compare_digest(given_bytes, self._token):
                raise RequestRefused("Unauthorized: invalid API token")
        endpoint = request.get("endpoint", "select_action")  # the kit's default
        if not isinstance(endpoint, str) or endpoint not in self.endpoints:
            raise RequestRefused(
                f"unknown endpoint {endpoint!r} (this server has {', '.join(sorted(self.endpoints))})"
            )
        return endpoint, request.get("data") or {}

    # ---- built-in endpoints ------------------------------------------------------------------------------

    def _ping(self, _data: Any) -> dict[str, str]:
        return {"status": "ok", "message": "Server is running"}

    def _kill(self, _data: Any) -> dict[str, str]:
        self._stop.set()  # the reply still goes out: the loop checks the flag after sending
        return {"status": "ok", "message": "stopping"}

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.getsignal(signum)
            signal.signal(signum, lambda *_: self._stop.set())
        return previous


class RequestRefused(Exception):
    """A request the server will not run (bad encoding, shape, token or endpoint)."""
