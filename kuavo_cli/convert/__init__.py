"""Raw Kuavo ROS1 bags -> one LeRobot v3.0 dataset, in pure Python (`rosbags`), in parallel.

Importing this package is cheap (no lerobot, no torch): the training config imports `ConvertConfig`.
"""

from kuavo_cli.convert.config import ConvertConfig

__all__ = ["ConvertConfig"]
