"""Training checkpoints in lerobot's layout: find, load, verify and write them (see `layout`)."""

from kuavo_cli.checkpoints.integrity import (
    CorruptCheckpointError,
    verify_pretrained_dir,
    verify_training_state_dir,
)
from kuavo_cli.checkpoints.read import (
    CHECKPOINTS_DIR,
    PRETRAINED_DIR,
    TRAINING_STATE_DIR,
    CheckpointRef,
    load_policy,
    resolve_checkpoint,
)

__all__ = [
    "CHECKPOINTS_DIR",
    "PRETRAINED_DIR",
    "TRAINING_STATE_DIR",
    "CheckpointRef",
    "CorruptCheckpointError",
    "load_policy",
    "resolve_checkpoint",
    "verify_pretrained_dir",
    "verify_training_state_dir",
]
