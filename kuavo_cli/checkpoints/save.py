"""Write checkpoints in lerobot's layout, atomically; move the `last` / `best` links; prune old steps.

A checkpoint is built in checkpoints/.tmp-<step>, fsynced, then renamed to checkpoints/<step>, and only then
does a link move. A crash at any point leaves the previous checkpoints and links as they were (at most a
`.tmp-*` folder, removed by the next save).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kuavo_cli.checkpoints.layout import (
    BEST_FILE,
    BEST_LINK,
    CHECKPOINTS_DIR,
    KUAVO_STATE_FILE,
    LAST_LINK,
    PRETRAINED_DIR,
    STAGING_PREFIX,
    TRAINING_STATE_DIR,
    step_name,
)
from kuavo_cli.utils import atomic


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
    """checkpoints/<step> (weights, processors, optimizer/scheduler/rng state, `extra_state` as
    kuavo_state.json) through lerobot's own save_checkpoint, then `last` -> <step>."""
    from lerobot.common.train_utils import save_checkpoint

    ckpts = run_dir / CHECKPOINTS_DIR
    ckpts.mkdir(parents=True, exist_ok=True)
    for stale in [*ckpts.glob(f"{STAGING_PREFIX}*"), *ckpts.glob(".*.old-*")]:  # left by a crash
        shutil.rmtree(stale, ignore_errors=True)
    final = ckpts / step_name(step, total_steps)
    tmp = _staging(final)
    save_checkpoint(
        checkpoint_dir=tmp, step=step, cfg=lerobot_cfg, policy=policy, optimizer=optimizer,
        scheduler=scheduler, preprocessor=preprocessor, postprocessor=postprocessor,
        num_processes=num_processes, batch_size=batch_size,
    )  # fmt: skip
    (tmp / TRAINING_STATE_DIR / KUAVO_STATE_FILE).write_text(json.dumps(extra_state, indent=2))
    if write_extra is not None:  # e.g. the other ranks' RNG states, inside the same atomic rename
        write_extra(tmp / TRAINING_STATE_DIR)
    _crash_point_for_tests(tmp)
    _publish(tmp, final)
    set_link(ckpts, LAST_LINK, final.name)
    return final


def save_model_only_atomic(final: Path, state_dict: dict[str, Any], parts: dict[str, Any]) -> None:
    """checkpoints/<step>/pretrained_model from a state dict (weights, policy + train config, processors),
    no training_state: what `best` points at when the best step is not a save point."""
    tmp = _staging(final)
    shutil.rmtree(tmp, ignore_errors=True)
    pretrained = tmp / PRETRAINED_DIR
    model, lerobot_cfg = parts["model"], parts["lerobot_cfg"]
    model.save_pretrained(pretrained, state_dict=state_dict)
    lerobot_cfg.save_pretrained(pretrained)
    if (
        lerobot_cfg.peft is not None
    ):  # an adapter folder lacks the policy config (as lerobot's save_checkpoint)
        model.config.save_pretrained(pretrained)
    parts["preprocessor"].save_pretrained(pretrained)
    parts["postprocessor"].save_pretrained(pretrained)
    _publish(tmp, final)


def write_best(ckpts: Path, name: str, step: int, val_loss: float) -> None:
    """`best` -> <name>, with best.json recording the step and its validation loss."""
    set_link(ckpts, BEST_LINK, name)
    atomic.write_text(ckpts / BEST_FILE, json.dumps({"step": step, "val_loss": val_loss}) + "\n")


def set_link(ckpts: Path, name: str, target: str) -> None:
    """Atomically point checkpoints/<name> at <target> (relative symlink, as lerobot's `last`)."""
    atomic.symlink(ckpts / name, target)


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


def _staging(final: Path) -> Path:
    return final.with_name(f"{STAGING_PREFIX}{final.name}")


def _publish(tmp: Path, final: Path) -> None:
    atomic.fsync_tree(tmp)
    atomic.replace_dir(tmp, final)


def _crash_point_for_tests(tmp: Path) -> None:
    # Fault injection for the "killed while writing a checkpoint" test: dies with the temp folder half-done.
    if os.environ.get("KUAVO_TEST_DIE_DURING_SAVE") == tmp.name.removeprefix(STAGING_PREFIX):
        os._exit(137)
