"""The command areas as a library: each `api.py` gives Python callers the checks and messages of the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kuavo_cli.errors import ConfigError, UsageError
from tests.cli_helpers import run_cli

PACKAGE = Path(__file__).resolve().parents[1] / "kuavo_cli"


def test_convert_options_get_the_training_configs_messages(tmp_path: Path) -> None:
    from kuavo_cli.convert.api import load_convert_config

    config = tmp_path / "convert.yaml"
    config.write_text("convert:\n  fps: 0\n  sise: 64x48\n")
    expected = ["fps: input should be greater than 0 (got 0)", "sise: unknown field; did you mean 'size'?"]
    with pytest.raises(ConfigError) as err:
        load_convert_config(config)
    assert err.value.problems == expected and err.value.exit_code == 2
    res = run_cli("convert", str(tmp_path / "bags"), "--out", str(tmp_path / "out"), "--config", str(config))
    assert res.exit_code == 2 and all(line in res.stderr for line in expected)
    assert not (tmp_path / "out").exists()
    # options sit above the file (None = not given) and are validated the same way
    config.write_text("convert:\n  fps: 5\n  size: 64x48\n")
    cfg = load_convert_config(config, {"fps": 2, "size": None})
    assert (cfg.fps, cfg.size) == (2, "64x48")
    with pytest.raises(ConfigError) as err:
        load_convert_config(config, {"arms": "up"})
    assert err.value.problems == ["arms: input should be 'both', 'left' or 'right' (got 'up')"]


def test_hub_modules_import_each_other_without_a_cycle() -> None:
    """Every `kuavo_cli.hub` import, function-level ones included: the module graph has no cycle."""
    graph: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / "hub").glob("*.py")):
        name = f"kuavo_cli.hub.{path.stem}"
        imported = {
            node.module
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kuavo_cli.hub.")
        }
        graph[name] = imported - {name}

    def cycle_from(start: str, seen: tuple[str, ...]) -> tuple[str, ...] | None:
        for nxt in graph.get(start, ()):
            if nxt in seen:
                return (*seen, nxt)
            found = cycle_from(nxt, (*seen, nxt))
            if found:
                return found
        return None

    cycles = [c for name in graph if (c := cycle_from(name, (name,)))]
    assert cycles == []


def test_inspect_options_check_their_values_for_python_callers() -> None:
    from kuavo_cli.inspect.api import InspectOptions

    with pytest.raises(UsageError, match=r"--episode must be >= 0 \(got -1\)"):
        InspectOptions(episode=-1)
    with pytest.raises(UsageError, match=r"--chunk-size must be >= 1 \(got 0\)"):
        InspectOptions(chunk_size=0)
    assert InspectOptions(episode=0, chunk_size=1).episode == 0
