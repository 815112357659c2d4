"""kuavo_cli.utils.atomic: the one way kuavo writes files and folders (permissions, no partial file, cleanup).

Before it, six writers differed: reports and configs came out 0600 (tempfile.mkstemp), some temp files were
never removed after an error, and only one writer fsynced.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kuavo_cli.utils import atomic
from tests.cli_helpers import run_cli


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_files_get_the_umask_permissions_not_0600(tmp_path: Path, umask_022) -> None:
    assert mode(atomic.write_text(tmp_path / "report.md", "# r\n")) == 0o644
    assert mode(atomic.write_json(tmp_path / "report.json", {"a": 1})) == 0o644
    with atomic.atomic_path(tmp_path / "plot.png") as tmp:
        tmp.write_bytes(b"png")
    assert mode(tmp_path / "plot.png") == 0o644
    os.umask(0o027)
    assert mode(atomic.write_bytes(tmp_path / "private.bin", b"x")) == 0o640
    with atomic.staged_dir(tmp_path / "export") as stage:
        (stage / "f.txt").write_text("x")
    assert mode(tmp_path / "export") == 0o750  # not mkdtemp's 0700


def test_config_init_and_report_files_are_readable_by_the_team(
    tmp_path: Path, umask_022, monkeypatch
) -> None:
    """The bug: config-init wrote its YAML through mkstemp, so the file came out 0600."""
    monkeypatch.chdir(tmp_path)
    res = run_cli("config-init", "--out", "cfg.yaml", "--yes")
    assert res.exit_code == 0, res.stderr
    assert mode(tmp_path / "cfg.yaml") == 0o644
    from kuavo_cli.docs_gen import main

    assert main([str(tmp_path / "config.md")]) == 0
    assert mode(tmp_path / "config.md") == 0o644
    assert hidden(tmp_path) == []


def test_replaces_whole_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    atomic.write_json(path, {"v": 1})
    atomic.write_json(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 2} and path.read_text().endswith("}\n")
    assert hidden(tmp_path) == []


def test_temp_file_is_hidden_beside_the_target_and_keeps_its_suffix(tmp_path: Path) -> None:
    with atomic.atomic_path(tmp_path / "sub" / "plot.png") as tmp:
        assert tmp.parent == tmp_path / "sub" and tmp.name.startswith(".") and tmp.suffix == ".png"
        assert tmp.exists() and not (tmp_path / "sub" / "plot.png").exists()
        tmp.write_bytes(b"1")
    assert (tmp_path / "sub" / "plot.png").read_bytes() == b"1"


def test_an_error_mid_write_keeps_the_old_file_and_removes_the_temp(tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"), atomic.atomic_path(path) as tmp:
        tmp.write_text("half of the new")
        raise RuntimeError("disk full")
    assert path.read_text() == "old" and hidden(tmp_path) == []
    with pytest.raises(TypeError):
        atomic.write_bytes(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_text() == "old" and hidden(tmp_path) == []


def test_a_killed_writer_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"old": true}')
    code = (
        "import os, sys; from kuavo_cli.utils import atomic\n"
        "with atomic.atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_text('{\"new\": ')\n"
        "    os._exit(137)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", code, str(path)], env=env, timeout=60)
    assert done.returncode == 137
    assert json.loads(path.read_text()) == {"old": True}


def test_overwrite_false_never_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    atomic.write_text(path, "a: 1\n", overwrite=False)
    with pytest.raises(FileExistsError):
        atomic.write_text(path, "a: 2\n", overwrite=False)
    with pytest.raises(FileExistsError), atomic.atomic_path(path, overwrite=False) as tmp:
        tmp.write_text("a: 3\n")
    assert path.read_text() == "a: 1\n" and hidden(tmp_path) == []


def test_staged_dir_swaps_in_whole_or_not_at_all(tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    with atomic.staged_dir(out) as stage:
        (stage / "a.txt").write_text("1")
    with pytest.raises(RuntimeError), atomic.staged_dir(out) as stage:
        (stage / "b.txt").write_text("2")
        raise RuntimeError("export failed")
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"] and hidden(tmp_path) == []
    with atomic.staged_dir(out) as stage:
        (stage / "c.txt").write_text("3")
    assert sorted(p.name for p in out.iterdir()) == ["c.txt"] and hidden(tmp_path) == []


def test_symlink_is_relative_and_replaces_the_old_link(tmp_path: Path) -> None:
    (tmp_path / "000002").mkdir()
    (tmp_path / "000004").mkdir()
    atomic.symlink(tmp_path / "last", "000002")
    atomic.symlink(tmp_path / "last", "000004")
    assert os.readlink(tmp_path / "last") == "000004" and (tmp_path / "last").resolve().name == "000004"
    assert hidden(tmp_path) == []
