"""Config models and loading. `TrainConfig` is the training config (the seed's names: lejurobot/configs/)."""

from kuavo_cli.config.loader import dump_config, load_train_config
from kuavo_cli.config.models import (
    BaseTrainConfig,
    DatasetSection,
    OptimizerSection,
    SchedulerSection,
    TrainConfig,
    WandbSection,
)
from kuavo_cli.config.policy import PolicySection

__all__ = [
    "BaseTrainConfig",
    "DatasetSection",
    "OptimizerSection",
    "PolicySection",
    "SchedulerSection",
    "TrainConfig",
    "WandbSection",
    "dump_config",
    "load_train_config",
]
