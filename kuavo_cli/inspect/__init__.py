"""`kuavo inspect`: what is in a LeRobot dataset, a folder of rosbags or a training run.

`api.inspect_target()` returns one JSON-able report whose shape is described by `schema.json` (kind: dataset,
rosbags or run); PNGs go to `out_dir` and their paths are listed under `outputs`.
"""

from pathlib import Path

SCHEMA_PATH = Path(__file__).with_name("schema.json")
