"""`kuavo doctor`: environment checks, each a `Check(name, status, detail, fix)`."""

from kuavo_cli.doctor.base import Check
from kuavo_cli.doctor.runner import run_checks, summary

__all__ = ["Check", "run_checks", "summary"]
