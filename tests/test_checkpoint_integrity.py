"""A damaged checkpoint file is named, with the fix, before eval / export / train --resume use it.

Found with a truncated model.safetensors: `kuavo export` packaged it (exit 0) and `kuavo eval` said only
"unexpected SafetensorError: ... invalid header length".
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kuavo_cli.checkpoints import CorruptCheckpointError, verify_pretrained_dir, verify_training_state_dir
from tests.cli_helpers import run_cli

NORMALIZER = "policy_preprocessor_step_3_normalizer_processor.safetensors"


def copy_run(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest, symlinks=True)  # `last` / `best` stay relative links
    return dest


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def pretrained(run: Path) -> Path:
    return run / "checkpoints" / "last" / "pretrained_model"


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


@pytest.mark.parametrize(
    ("damage", "name", "problem"),
    [
        (lambda p: truncate(p / "model.safetensors"), "model.safetensors", "truncated"),
        (lambda p: truncate(p / "model.safetensors", 0.00001), "model.safetensors", "truncated"),
        (lambda p: (p / "model.safetensors").write_bytes(b"\x10" * 64), "model.safetensors", "truncated"),
        (lambda p: truncate(p / NORMALIZER, 0.9), NORMALIZER, "truncated"),
        (lambda p: (p / NORMALIZER).unlink(), NORMALIZER, "missing"),
        (lambda p: (p / "config.json").write_text('{"type": "act", '), "config.json", "not valid JSON"),
        (lambda p: truncate(p / "policy_postprocessor.json"), "policy_postprocessor.json", "not valid JSON"),
    ],
    ids=["half", "8-bytes", "garbage", "processor-state", "state-missing", "config", "pipeline"],
)
def test_verifier_names_the_damaged_file(kuavo_act_run: Path, tmp_path: Path, damage, name, problem) -> None:
    run = copy_run(kuavo_act_run, tmp_path / "run")
    verify_pretrained_dir(pretrained(run))  # whole files pass
    damage(pretrained(run))
    with pytest.raises(CorruptCheckpointError) as err:
        verify_pretrained_dir(pretrained(run))
    assert err.value.path.name == name and problem in err.value.message
    assert err.value.exit_code == 1 and err.value.hint


def test_verifier_catches_a_header_that_lies_about_the_data(kuavo_act_run: Path, tmp_path: Path) -> None:
    """Same size, but a tensor's byte range in the header no longer matches its dtype and shape."""
    run = copy_run(kuavo_act_run, tmp_path / "run")
    path = pretrained(run) / NORMALIZER
    data = path.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    key = next(k for k in header if k != "__metadata__")
    header[key]["shape"] = [*header[key]["shape"], 2]
    text = json.dumps(header, separators=(",", ":")).encode().ljust(header_len)  # same header size
    assert len(text) == header_len
    path.write_bytes(data[:8] + text + data[8 + header_len :])
    with pytest.raises(CorruptCheckpointError, match="inconsistent byte offsets"):
        verify_pretrained_dir(pretrained(run))


def test_export_of_a_truncated_checkpoint_fails_and_writes_nothing(
    kuavo_act_run: Path, tmp_path: Path
) -> None:
    run = copy_run(kuavo_act_run, tmp_path / "run")
    truncate(pretrained(run) / "model.safetensors")
    for fmt in ("kit", "lerobot"):
        out = tmp_path / f"out-{fmt}"
        res = run_cli("export", str(run), "--format", fmt, "--task", "1", "--out", str(out))
        assert res.exit_code == 1, res.stderr
        line = one_error_line(res.stderr)
        assert "model.safetensors is truncated" in line and "fix:" in line
        assert not out.exists() and not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_eval_of_a_truncated_checkpoint_names_the_file(kuavo_act_run: Path, tmp_path: Path) -> None:
    run = copy_run(kuavo_act_run, tmp_path / "run")
    truncate(pretrained(run) / NORMALIZER)
    out = tmp_path / "eval"
    res = run_cli("eval", str(run), "--out", str(out), "--device", "cpu")
    assert res.exit_code == 1, res.stderr
    line = one_error_line(res.stderr)
    assert NORMALIZER in line and "truncated" in line and "SafetensorError" not in res.stderr
    assert not out.exists()


def test_resume_from_a_damaged_training_state_stops_before_training(
    kuavo_act_run: Path, tmp_path: Path
) -> None:
    run = copy_run(kuavo_act_run, tmp_path / "run")
    state = run / "checkpoints" / "last" / "training_state"
    verify_training_state_dir(state)
    truncate(state / "optimizer_state.safetensors")
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    res = run_cli("train", "--resume", str(run), "--steps", "6")
    assert res.exit_code == 1, res.stderr
    line = one_error_line(res.stderr)
    assert "optimizer_state.safetensors is truncated" in line
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before  # nothing trained or saved
