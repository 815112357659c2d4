"""kuavo_cli.checkpoints: the one resolver (eval/export/serve pick `best`, train --resume picks `last`),
against a real run written by `kuavo train`."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from kuavo_cli import checkpoints
from kuavo_cli.errors import UsageError


def test_resolver_prefers_best_or_last_and_resume_follows_last(kuavo_act_run: Path) -> None:
    ckpts = kuavo_act_run / checkpoints.CHECKPOINTS_DIR
    last = (ckpts / checkpoints.LAST_LINK).resolve()
    best = (ckpts / checkpoints.BEST_LINK).resolve()
    assert checkpoints.resolve_checkpoint(kuavo_act_run, prefer="last").step_dir.resolve() == last
    assert checkpoints.resolve_checkpoint(kuavo_act_run).step_dir.resolve() == best
    assert checkpoints.resolve_checkpoint(kuavo_act_run).run_dir == kuavo_act_run
    assert checkpoints.resume_checkpoint(kuavo_act_run) == last
    assert checkpoints.run_dir_of(checkpoints.resume_checkpoint(kuavo_act_run)) == kuavo_act_run.resolve()
    step_dir = ckpts / checkpoints.step_name(4, 4)
    assert checkpoints.resume_checkpoint(step_dir / checkpoints.PRETRAINED_DIR) == step_dir.resolve() == last
    assert checkpoints.resume_checkpoint(step_dir) == last
    with pytest.raises(ValueError, match="prefer"):
        checkpoints.resolve_checkpoint(kuavo_act_run, prefer="latest")  # type: ignore[arg-type]


def test_resume_refuses_a_model_only_checkpoint(kuavo_act_run: Path, tmp_path: Path) -> None:
    run = shutil.copytree(kuavo_act_run, tmp_path / "run", symlinks=True)
    step = (run / checkpoints.CHECKPOINTS_DIR / checkpoints.LAST_LINK).resolve()
    shutil.rmtree(step / checkpoints.TRAINING_STATE_DIR)  # what a `best` between save points looks like
    assert checkpoints.resolve_checkpoint(step).pretrained_dir == step / checkpoints.PRETRAINED_DIR
    with pytest.raises(UsageError, match="cannot resume") as err:
        checkpoints.resume_checkpoint(run)
    assert err.value.exit_code == 2 and err.value.hint


def test_best_record_and_links_are_written_atomically(tmp_path: Path) -> None:
    ckpts = tmp_path / checkpoints.CHECKPOINTS_DIR
    (ckpts / "000002").mkdir(parents=True)
    (ckpts / "000004").mkdir()
    old = os.umask(0o022)
    try:
        checkpoints.write_best(ckpts, "000002", 2, 0.25)
        checkpoints.write_best(ckpts, "000004", 4, 0.125)
    finally:
        os.umask(old)
    assert (
        ckpts / checkpoints.BEST_FILE
    ).read_text() == '{"step": 4, "val_loss": 0.125}\n'  # lerobot-free format
    assert stat.S_IMODE((ckpts / checkpoints.BEST_FILE).stat().st_mode) == 0o644
    assert checkpoints.link_target(ckpts, checkpoints.BEST_LINK) == "000004"
    checkpoints.set_link(ckpts, checkpoints.LAST_LINK, "000004")
    assert checkpoints.prune(ckpts) == ["000002"]
    assert sorted(p.name for p in ckpts.iterdir()) == ["000004", "best", "best.json", "last"]
