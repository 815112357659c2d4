"""`kuavo serve`: a checkpoint behind the competition kit's ZeroMQ policy protocol (client mode)."""

from kuavo_cli.serve.api import run_server

__all__ = ["run_server"]
