"""The names of everything in a training run folder, once (lerobot's checkpoint layout plus kuavo's files).

    <run>/train_config.yaml            resolved kuavo config
    <run>/split.json                   {"train_episodes": [...], "val_episodes": [...], ...}
    <run>/metrics.jsonl                one JSON object per log / validation event
    <run>/checkpoints/<step>/pretrained_model/   config.json, model.safetensors, train_config.json,
                                                 policy_{pre,post}processor*.json/.safetensors
    <run>/checkpoints/<step>/training_state/     optimizer / scheduler / rng / step (+ kuavo_state.json)
    <run>/checkpoints/last -> <step>   (relative symlink, as lerobot)
    <run>/checkpoints/best -> <step>   (lowest validation loss; best.json beside it)

`<step>` is lerobot's zero-padded step name (`step_name`). A plain `lerobot-train` output has the same
`checkpoints/` part, so every reader here takes both.
"""

from __future__ import annotations

# The run folder
CHECKPOINTS_DIR = "checkpoints"
CONFIG_FILE = "train_config.yaml"
SPLIT_FILE = "split.json"
METRICS_FILE = "metrics.jsonl"

# checkpoints/
LAST_LINK = "last"
BEST_LINK = "best"
BEST_FILE = "best.json"
STAGING_PREFIX = ".tmp-"  # checkpoints/.tmp-<step>: a save in progress (or cut short by a crash)

# checkpoints/<step>/
PRETRAINED_DIR = "pretrained_model"
TRAINING_STATE_DIR = "training_state"

# checkpoints/<step>/pretrained_model/
POLICY_CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
ADAPTER_FILE = "adapter_model.safetensors"  # a PEFT (LoRA) checkpoint holds only the adapter
ADAPTER_CONFIG_FILE = "adapter_config.json"
TRAIN_CONFIG_JSON = "train_config.json"  # lerobot's resolved config
PREPROCESSOR_FILE = "policy_preprocessor.json"
POSTPROCESSOR_FILE = "policy_postprocessor.json"
PIPELINE_FILES = (PREPROCESSOR_FILE, POSTPROCESSOR_FILE)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")  # never loaded

# checkpoints/<step>/training_state/
TRAINING_STEP_FILE = "training_step.json"  # lerobot's: step, num_processes, batch_size
KUAVO_STATE_FILE = "kuavo_state.json"  # ours: best_val_loss, wandb_run_id, topology


def step_name(step: int, total_steps: int) -> str:
    """lerobot's folder name for `step` (zero-padded to the width of `total_steps`)."""
    from lerobot.common.train_utils import get_step_identifier

    return get_step_identifier(step, total_steps)
