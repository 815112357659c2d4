"""`from lejurobot.configs.train import TrainPipelineConfigLejuRobot, DistributedTrainConfig` keeps working."""

from kuavo_cli.config.models import DistributedTrainConfig, TrainPipelineConfigLejuRobot

__all__ = ["DistributedTrainConfig", "TrainPipelineConfigLejuRobot"]
