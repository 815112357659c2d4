"""Training checkpoints in lerobot's layout, in one place: the folder and file names (`layout`), the one
resolver of a path to a checkpoint and loading it (`read`), atomic saving with the `last` / `best` links and
pruning (`save`), and verifying that a checkpoint's files are whole (`integrity`).

    from kuavo_cli import checkpoints
    ref = checkpoints.resolve_checkpoint("outputs/train/run", prefer="best")  # or prefer="last"
    policy, cfg, pre, post = checkpoints.load_policy(ref)
"""

from kuavo_cli.checkpoints.integrity import (
    CorruptCheckpointError,
    check_json,
    check_safetensors,
    verify_pretrained_dir,
    verify_training_state_dir,
)
from kuavo_cli.checkpoints.layout import (
    ADAPTER_CONFIG_FILE,
    ADAPTER_FILE,
    BEST_FILE,
    BEST_LINK,
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    KUAVO_STATE_FILE,
    LAST_LINK,
    METRICS_FILE,
    MODEL_FILE,
    PICKLE_SUFFIXES,
    PIPELINE_FILES,
    POLICY_CONFIG_FILE,
    POSTPROCESSOR_FILE,
    PREPROCESSOR_FILE,
    PRETRAINED_DIR,
    SPLIT_FILE,
    STAGING_PREFIX,
    TRAIN_CONFIG_JSON,
    TRAINING_STATE_DIR,
    TRAINING_STEP_FILE,
    step_name,
)
from kuavo_cli.checkpoints.read import (
    CheckpointRef,
    load_policy,
    resolve_checkpoint,
    resume_checkpoint,
    run_dir_of,
)
from kuavo_cli.checkpoints.save import (
    link_target,
    prune,
    save_checkpoint_atomic,
    save_model_only_atomic,
    set_link,
    write_best,
)

__all__ = [
    "ADAPTER_CONFIG_FILE",
    "ADAPTER_FILE",
    "BEST_FILE",
    "BEST_LINK",
    "CHECKPOINTS_DIR",
    "CONFIG_FILE",
    "KUAVO_STATE_FILE",
    "LAST_LINK",
    "METRICS_FILE",
    "MODEL_FILE",
    "PICKLE_SUFFIXES",
    "PIPELINE_FILES",
    "POLICY_CONFIG_FILE",
    "POSTPROCESSOR_FILE",
    "PREPROCESSOR_FILE",
    "PRETRAINED_DIR",
    "SPLIT_FILE",
    "STAGING_PREFIX",
    "TRAINING_STATE_DIR",
    "TRAINING_STEP_FILE",
    "TRAIN_CONFIG_JSON",
    "CheckpointRef",
    "CorruptCheckpointError",
    "check_json",
    "check_safetensors",
    "link_target",
    "load_policy",
    "prune",
    "resolve_checkpoint",
    "resume_checkpoint",
    "run_dir_of",
    "save_checkpoint_atomic",
    "save_model_only_atomic",
    "set_link",
    "step_name",
    "verify_pretrained_dir",
    "verify_training_state_dir",
    "write_best",
]
