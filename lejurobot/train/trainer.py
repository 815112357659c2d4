"""`from lejurobot.train.trainer import Trainer` keeps working."""

from kuavo_cli.train.trainer import Trainer

__all__ = ["Trainer"]
