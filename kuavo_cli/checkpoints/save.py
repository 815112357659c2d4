"""Checkpoints in lerobot's layout, written atomically; `last` / `best` links; pruning; resume lookup."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kuavo_cli.checkpoints.read import (
    CHECKPOINTS_DIR,
    TRAINING_STATE_DIR,
    verify_pretrained_dir,
    verify_training_state_dir,
)
from kuavo_cli.errors import UsageError

BEST_LINK = "best"
LAST_LINK = "last"


def step_name(step: int, total_steps: int) -> str:
    from lerobot.common.train_utils import get_step_identifier

    return get_step_identifier(step, total_steps)


def save_checkpoint_atomic(
    run_dir: Path,
    step: int,
    total_steps: int,
    lerobot_cfg: Any,
    policy: Any,
    optimizer: Any,
    scheduler: Any,
    preprocessor: Any,
    postprocessor: Any,
    num_processes: int,
    batch_size: int,
    extra_state: dict[str, Any],
    write_extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write checkpoints/<step> via a temp folder + rename, then move `last`. A crash mid-write leaves the
    previous checkpoint and links untouched (only a `.tmp-*` folder, removed on the next save)."""
    from lerobot.common.train_utils import save_checkpoint

    ckpts = run_dir / CHECKPOINTS_DIR
    ckpts.mkdir(parents=True, exist_ok=True)
    for stale in ckpts.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    final = ckpts / step_name(step, total_steps)
    tmp = ckpts / f".tmp-{final.name}"
    save_checkpoint(
        checkpoint_dir=tmp,
        step=step,
        cfg=lerobot_cfg,
        policy=policy,
        optimizer=optimizer,
        scheduler=scheduler,
        preprocessor=preprocessor,
        postprocessor=postprocessor,
        num_processes=num_processes,
        batch_size=batch_size,
    )
    (tmp / TRAINING_STATE_DIR / "kuavo_state.json").write_text(json.dumps(extra_state, indent=2))
    if write_extra is not None:  # e.g. the other ranks' RNG states, inside the same atomic rename
        write_extra(tmp / TRAINING_STATE_DIR)
    _crash_point_for_tests(tmp)
    _fsync_tree(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    set_link(ckpts, LAST_LINK, final.name)
    return final


def _crash_point_for_tests(tmp: Path) -> None:
    # Fault injection for the "killed while writing a checkpoint" test: dies with the temp folder half-done.
    if os.environ.get("KUAVO_TEST_DIE_DURING_SAVE") == tmp.name.removeprefix(".tmp-"):
        os._exit(137)


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())


def set_link(ckpts: Path, name: str, target: str) -> None:
    """Atomically point checkpoints/<name> at <target> (relative symlink, as lerobot's `last`)."""
    tmp = ckpts / f".{name}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, ckpts / name)


def link_target(ckpts: Path, name: str) -> str | None:
    link = ckpts / name
    return os.readlink(link) if link.is_symlink() else None


def prune(ckpts: Path) -> list[str]:
    """Keep only the step folders `last` and `best` point at (only_last_best)."""
    keep = {link_target(ckpts, LAST_LINK), link_target(ckpts, BEST_LINK)}
    removed = []
    for path in ckpts.iterdir():
        if path.is_dir() and not path.is_symlink() and path.name.isdigit() and path.name not in keep:
            shutil.rmtree(path)
            removed.append(path.name)
    return removed


def find_resume_checkpoint(path: Path) -> Path:
    """A run folder (its `last`) or a checkpoints/<step> folder -> the step folder to resume from.

    The step folder's files are verified whole (weights, processors, optimizer/scheduler/rng state) here, the
    one place every resume passes, so a damaged checkpoint is named before a training process starts.
    """
    step_dir = _resume_step_dir(Path(path))
    verify_pretrained_dir(step_dir / "pretrained_model")
    verify_training_state_dir(step_dir / TRAINING_STATE_DIR)
    return step_dir


def _resume_step_dir(path: Path) -> Path:
    if (path / CHECKPOINTS_DIR / LAST_LINK).exists():
        return (path / CHECKPOINTS_DIR / LAST_LINK).resolve()
    if (path / TRAINING_STATE_DIR).is_dir():
        return path.resolve()
    if path.name == "pretrained_model" and (path.parent / TRAINING_STATE_DIR).is_dir():
        return path.parent.resolve()
    raise UsageError(
        f"cannot resume from {path}: no checkpoints/last and no training_state folder",
        "pass the run folder (outputs/train/...) or one of its checkpoints/<step> folders",
    )


def run_dir_of(step_dir: Path) -> Path:
    return step_dir.parent.parent
