"""Config models and loading. `TrainPipelineConfigLejuRobot` / `DistributedTrainConfig` keep the seed's names."""

from kuavo_cli.config.loader import dump_config, load_train_config
from kuavo_cli.config.models import (
    DatasetSection,
    DistributedTrainConfig,
    OptimizerSection,
    SchedulerSection,
    TrainConfig,
    TrainPipelineConfigLejuRobot,
    WandbSection,
)
from kuavo_cli.config.policy import PolicySection

__all__ = [
    "DatasetSection",
    "DistributedTrainConfig",
    "OptimizerSection",
    "PolicySection",
    "SchedulerSection",
    "TrainConfig",
    "TrainPipelineConfigLejuRobot",
    "WandbSection",
    "dump_config",
    "load_train_config",
]
