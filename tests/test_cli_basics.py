"""Every command has --help (with an example) and the app lists them; --version works."""

from __future__ import annotations

import re

import pytest

from tests.cli_helpers import run_cli, run_subprocess

COMMANDS = [
    ["download"], ["inspect"], ["convert"], ["config-init"], ["config", "show"], ["config", "validate"],
    ["demo-data"], ["demo"], ["train"], ["eval"], ["export"], ["serve"], ["doctor"], ["sim", "check"],
]  # fmt: skip


def test_no_args_prints_help():
    result = run_subprocess()
    assert "Usage" in result.stdout + result.stderr
    for name in ("download", "inspect", "config-init", "train", "eval", "export"):
        assert name in result.stdout


def test_version():
    result = run_cli("--version")
    assert result.exit_code == 0 and re.match(r"kuavo \d+\.\d+", result.stdout)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_has_example(command: list[str]):
    result = run_cli(*command, "--help")
    assert result.exit_code == 0, result.stderr
    assert "Example: kuavo" in result.stdout


def test_unknown_command_is_usage_error():
    result = run_subprocess("trian")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
