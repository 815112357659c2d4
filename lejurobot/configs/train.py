"""`from lejurobot.configs.train import TrainPipelineConfigLejuRobot, DistributedTrainConfig` keeps working.

The seed README's two names for kuavo's config classes (only here; inside kuavo_cli they are
`BaseTrainConfig` and `TrainConfig`): the single-GPU one without, the distributed one with the DDP fields.
"""

from kuavo_cli.config.models import BaseTrainConfig, TrainConfig

TrainPipelineConfigLejuRobot = BaseTrainConfig
DistributedTrainConfig = TrainConfig

__all__ = ["DistributedTrainConfig", "TrainPipelineConfigLejuRobot"]
