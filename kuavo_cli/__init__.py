"""kuavo: the Leju Kuavo data challenge workflow over LeRobot."""

__version__ = "0.1.0"
