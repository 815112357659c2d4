"""Load a checkpoint and serve it until stopped; what `kuavo serve` runs."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kuavo_cli.serve.policy import ServedPolicy
from kuavo_cli.serve.server import DEFAULT_MAX_MESSAGE_MB, LOOPBACK, PolicyServer


def run_server(
    checkpoint: str | Path,
    host: str = "127.0.0.1",
    port: int = 5555,
    token: str | None = None,
    device: str = "auto",
    max_message_mb: float = DEFAULT_MAX_MESSAGE_MB,
    seed: int | None = None,
    task: str | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Serve until SIGTERM / SIGINT / `kill`; returns what was served and the per-endpoint latencies."""
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    if host not in LOOPBACK:
        log(
            f"warning: listening on {host}: anyone who reaches this port can drive the robot"
            + ("" if token else "; set --token (or KUAVO_SERVE_TOKEN)")
        )
    started = time.perf_counter()
    # flags and the port first (a taken port fails at once), then the policy (seconds): requests that arrive
    # meanwhile wait in the socket, and the drop-in client waits for the server's `info` anyway
    server = PolicyServer({}, host=host, port=port, token=token, max_message_mb=max_message_mb, log=log)
    address = server.bind()
    try:
        served = ServedPolicy(checkpoint, device=device, seed=seed, task=task)
    except BaseException:
        server.close()
        raise
    server.endpoints.update(served.endpoints())
    log(
        f"[kuavo serve] ready on {address}: {served.describe()}, {served.ref.pretrained_dir} "
        f"(loaded in {time.perf_counter() - started:.1f} s; token {'required' if token else 'off'})"
    )
    server.serve_forever()
    summary = server.stats.summary()
    log(
        f"[kuavo serve] stopped after {server.requests} requests ({server.refused} refused); "
        + ", ".join(f"{k} n={v['n']} p50 {v['p50_ms']} ms p95 {v['p95_ms']} ms" for k, v in summary.items())
    )
    return {
        "address": address,
        "checkpoint": str(served.ref.pretrained_dir),
        "requests": server.requests,
        "refused": server.refused,
        "latency_ms": summary,
    }
