"""Training: one Accelerate trainer for 1..N processes (`Trainer`), run folders and checkpoints."""

from kuavo_cli.train.trainer import Trainer, TrainingInterrupted

__all__ = ["Trainer", "TrainingInterrupted"]
