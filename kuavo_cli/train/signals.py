"""SIGINT / SIGTERM during training set a flag (the loop saves and stops on every rank together); the
handlers that were there before are put back afterwards, so a notebook keeps its Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_flag_on_signals(on_signal: Callable[[str], None]) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # signal.signal only works there
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        on_signal(signal.Signals(signum).name)

    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


def agreed_stop(signalled: bool, accelerator: Any, world: int) -> bool:
    """Collective: all ranks stop together if any rank was signalled."""
    import torch

    flag = torch.tensor(1.0 if signalled else 0.0, device=accelerator.device)
    if world > 1:
        flag = accelerator.reduce(flag, reduction="sum")
    return bool(flag.item() > 0)
