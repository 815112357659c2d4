"""Training config models (pydantic v2). Field descriptions feed `--help`, the wizard and docs/config.md.

`TrainConfig` is the one config class kuavo trains from; YAML files always load into it, so both seed
examples load. `BaseTrainConfig` holds its fields without the DDP and profiling knobs: the seed README's
names for the two (`TrainPipelineConfigLejuRobot`, `DistributedTrainConfig`) live in lejurobot/configs/train.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from kuavo_cli.config.policy import PolicySection
from kuavo_cli.convert.config import ConvertConfig

MixedPrecision = Literal["no", "fp16", "bf16"]


class StrictModel(BaseModel):
    """Every section forbids unknown keys (pydantic does not inherit this into nested models)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DatasetSection(StrictModel):
    repo_id: str = Field(
        "LejuRobotics/kuavo_data_challenge_icra",
        min_length=1,
        description="Hub repo id of a LeRobot dataset, or a name for a local one given by `root`.",
    )
    root: Path | None = Field(
        None,
        description="Local folder of the LeRobot dataset (meta/info.json inside). Never downloads when set.",
    )
    episodes: list[int] | None = Field(None, description="Only these episode indices (default: all).")
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit) of the dataset.")
    video_backend: Literal["torchcodec", "pyav"] | None = Field(
        None, description="Video decoder; default torchcodec when it loads, else pyav."
    )
    use_imagenet_stats: bool = Field(True, description="Normalise camera images with ImageNet statistics.")
    image_transforms: bool = Field(
        False, description="Enable lerobot's random image augmentations for training."
    )
    tolerance_s: float = Field(1e-4, gt=0, description="Timestamp tolerance when reading frames (seconds).")
    cache: bool = Field(
        False,
        description="Decode every camera frame once into a memory-mapped uint8 cache on disk (`kuavo cache`), "
        "then train from it: same items, no video decoding per sample. Needs frames x 3 x H x W bytes of disk.",
    )
    cache_dir: Path | None = Field(
        None, description="Folder for frame caches (default $KUAVO_CACHE_DIR or ~/.cache/kuavo/frames)."
    )
    cache_resolution: Literal["native", "policy"] = Field(
        "native",
        description="Frame cache resolution: native (the video's; identical frames) or policy (already "
        "resized by the policy's own resize: pi05/pi0/smolvla, diffusion with resize_shape; ~6x less disk).",
    )

    @model_validator(mode="after")
    def _episodes_valid(self) -> DatasetSection:
        if self.episodes is not None:
            if any(e < 0 for e in self.episodes):
                raise ValueError("episode indices must be >= 0")
            if len(set(self.episodes)) != len(self.episodes):
                raise ValueError("episode indices must not repeat")
        return self


class DatasetSource(StrictModel):
    """One dataset of a multi-task run (`datasets:`); reading options stay shared under `dataset:`."""

    name: str | None = Field(
        None, description="Label in metrics and logs (default: the root folder name, else the repo id)."
    )
    repo_id: str = Field("local/dataset", min_length=1, description="Hub repo id, or a name for `root`.")
    root: Path | None = Field(
        None, description="Local folder of the LeRobot dataset. Never downloads when set."
    )
    episodes: list[int] | None = Field(None, description="Only these episode indices (default: all).")
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit) of the dataset.")
    weight: float = Field(
        1.0, gt=0, description="Relative share of training samples drawn from this dataset (any positive)."
    )

    def label(self) -> str:
        if self.name:
            return self.name
        return self.root.name if self.root is not None else self.repo_id.rsplit("/", 1)[-1]

    @model_validator(mode="after")
    def _episodes_valid(self) -> DatasetSource:
        if self.episodes is not None and (
            any(e < 0 for e in self.episodes) or len(set(self.episodes)) != len(self.episodes)
        ):
            raise ValueError("episode indices must be >= 0 and must not repeat")
        return self


class OptimizerSection(StrictModel):
    name: Literal["adamw", "adam", "sgd"] = Field(
        "adamw", validation_alias=AliasChoices("name", "type"), description="Optimizer (alias: type)."
    )
    lr: float = Field(1e-4, gt=0, description="Learning rate.")
    weight_decay: float = Field(0.01, ge=0, description="Weight decay.")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam(W) betas.")
    eps: float = Field(1e-8, gt=0, description="Adam(W) epsilon.")
    momentum: float = Field(0.0, ge=0, description="SGD momentum.")
    grad_clip_norm: float = Field(10.0, ge=0, description="Clip gradients to this norm (0 = no clipping).")


class SchedulerSection(StrictModel):
    type: Literal["none", "cosine_decay_with_warmup", "diffuser", "vqbet"] = Field(
        "cosine_decay_with_warmup",
        validation_alias=AliasChoices("type", "name"),
        description="LR schedule (lerobot's schedulers).",
    )
    num_warmup_steps: int = Field(0, ge=0, description="Warm-up steps (optimizer steps).")
    num_decay_steps: int | None = Field(None, ge=1, description="Decay steps (default: `steps`).")
    decay_lr: float = Field(1e-6, ge=0, description="Final LR of the cosine decay.")


class WandbSection(StrictModel):
    enable: bool = Field(False, description="Log to Weights & Biases (main process only).")
    project: str = Field("kuavo", description="wandb project.")
    entity: str | None = Field(None, description="wandb entity (team or user).")
    mode: Literal["online", "offline", "disabled"] | None = Field(
        None, description="wandb mode; default online with an API key, else offline (never prompts)."
    )
    notes: str | None = Field(None, description="Notes attached to the run.")
    run_id: str | None = Field(None, description="Resume this wandb run id.")


class BaseTrainConfig(StrictModel):
    """A training run: dataset, policy, optimisation and bookkeeping (seed README defaults); without the
    multi-GPU and profiling fields `TrainConfig` adds."""

    dataset: DatasetSection = Field(
        ...,
        description="Which LeRobot dataset to train on. With `datasets`, only its reading options (video "
        "backend, cache, transforms, ...) apply; its repo_id/root mirror the first entry of `datasets`.",
    )
    datasets: list[DatasetSource] | None = Field(
        None,
        min_length=1,
        description="Multi-task training: several datasets (same features and fps), each with a sampling "
        "`weight`; every episode keeps its own task text; validation loss is reported per dataset.",
    )
    policy: PolicySection = Field(
        default_factory=PolicySection,
        description="Policy type (alias: name) plus any field of lerobot's config for that policy.",
    )
    optimizer: OptimizerSection | None = Field(
        None, description="Optimizer; when absent the policy's lerobot training preset is used."
    )
    scheduler: SchedulerSection | None = Field(
        None, description="LR scheduler; when absent the policy's preset (if any) is used."
    )
    use_policy_training_preset: bool | None = Field(
        None,
        description="Use lerobot's optimizer/scheduler preset for the policy. Default: only when no "
        "`optimizer` section is given.",
    )
    steps: int = Field(100_000, gt=0, description="Number of optimizer steps.")
    batch_size: int = Field(8, gt=0, description="Per-process (per-GPU) batch size.")
    num_workers: int = Field(4, ge=0, description="DataLoader worker processes per GPU.")
    prefetch_factor: int = Field(2, gt=0, description="Batches prefetched per DataLoader worker.")
    log_freq: int = Field(200, gt=0, description="Log training metrics every N steps.")
    eval_freq: int = Field(500, gt=0, description="Compute validation loss every N steps.")
    save_freq: int = Field(5000, gt=0, description="Save a checkpoint every N steps.")
    split_ratio: float = Field(0.8, gt=0, lt=1, description="Fraction of episodes used for training.")
    only_last_best: bool = Field(True, description="Keep only the `last` and `best` checkpoints.")
    num_eval_batches: int = Field(50, gt=0, description="Validation batches per evaluation.")
    seed: int | None = Field(1000, description="Random seed (split, sampling, init).")
    output_dir: Path | None = Field(
        None, description="Run folder (default outputs/train/<date>/<time>_<job_name>)."
    )
    job_name: str | None = Field(None, description="Run name (default <policy>_<dataset>).")
    resume: bool | Path = Field(
        False, description="Resume: true = from output_dir, or a run / checkpoint folder to continue."
    )
    mixed_precision: MixedPrecision = Field("no", description="Mixed precision: no, fp16 or bf16.")
    gpus: int = Field(1, gt=0, description="Processes (GPUs) `kuavo train` launches.")
    cpu: bool = Field(False, description="Force CPU even when a GPU is present.")
    compile: bool = Field(False, description="torch.compile the policy.")
    # lerobot-train options passed through as they are (validated by lerobot's classes, lerobot_options.py)
    peft: dict[str, Any] | None = Field(
        None,
        description="LoRA/PEFT fine-tuning of policy.pretrained_path: lerobot's PeftConfig (target_modules, "
        "r, lora_alpha, method_type, full_training_modules, init_type). Only the adapter trains.",
    )
    rename_map: dict[str, str] = Field(
        default_factory=dict,
        description="Dataset key -> pretrained policy key (e.g. camera names); needs policy.pretrained_path.",
    )
    sample_weighting: dict[str, Any] | None = Field(
        None,
        description="lerobot's SampleWeightingConfig (type rabc or uniform); needs a policy whose loss "
        "supports reduction='none' (pi0, pi05, smolvla, ...).",
    )
    cudnn_deterministic: bool = Field(
        False, description="Deterministic cuDNN kernels (slower); otherwise cudnn.benchmark, as lerobot."
    )
    save_checkpoint_to_hub: bool = Field(
        False, description="Push every saved checkpoint to the hub repo policy.repo_id (main process)."
    )
    wandb: WandbSection = Field(default_factory=WandbSection, description="Weights & Biases logging.")
    convert: ConvertConfig | None = Field(
        None, description="Options of `kuavo convert` (see docs/convert.md), kept with the run config."
    )

    @model_validator(mode="before")
    @classmethod
    def _dataset_from_datasets(cls, data: Any) -> Any:
        # With `datasets:` the `dataset:` section is optional: it then holds the shared reading options only.
        if isinstance(data, dict) and data.get("datasets") and data.get("dataset") is None:
            return {**data, "dataset": {}}
        return data

    @model_validator(mode="after")
    def _mirror_first_dataset(self) -> BaseTrainConfig:
        if not self.datasets:
            return self
        labels = [d.label() for d in self.datasets]
        repeated = sorted({n for n in labels if labels.count(n) > 1})
        if repeated:
            raise ValueError(
                f"datasets: name {repeated[0]!r} is used twice; give each entry a distinct `name`"
            )
        first, section = self.datasets[0], self.dataset
        given = section.model_fields_set & {"root", "episodes", "revision"}
        if "repo_id" in section.model_fields_set and section.repo_id != first.repo_id:
            given.add("repo_id")
        for key in sorted(given):
            if getattr(section, key) != getattr(first, key):
                raise ValueError(
                    f"dataset.{key} and datasets[0].{key} differ: with `datasets`, set repo_id/root/episodes "
                    "per entry there and keep only reading options under `dataset`"
                )
        # cfg.dataset keeps describing the first dataset, for everything that reads one (run names, eval).
        for key in ("repo_id", "root", "episodes", "revision"):
            setattr(section, key, getattr(first, key))
        return self

    @field_validator("mixed_precision", mode="before")
    @classmethod
    def _yaml_no_is_false(cls, value: Any) -> Any:
        # YAML 1.1 reads a bare `no` as false; the user meant the string.
        return "no" if value is False else value

    @model_validator(mode="after")
    def _scheduler_steps(self) -> BaseTrainConfig:
        if self.scheduler is not None and self.scheduler.num_warmup_steps > self.steps:
            raise ValueError(
                f"scheduler.num_warmup_steps ({self.scheduler.num_warmup_steps}) exceeds steps ({self.steps})"
            )
        return self

    @model_validator(mode="after")
    def _lerobot_options(self) -> BaseTrainConfig:
        from kuavo_cli.config import lerobot_options

        if self.peft is not None:
            lerobot_options.peft_config(self.peft)
        if self.sample_weighting is not None:
            lerobot_options.sample_weighting_config(self.sample_weighting)
        lerobot_options.check_pass_through(self)
        return self

    def uses_policy_preset(self) -> bool:
        if self.use_policy_training_preset is None:
            return self.optimizer is None
        return self.use_policy_training_preset


class TrainConfig(BaseTrainConfig):
    """The training config: a run plus multi-GPU (DDP) and profiling options; YAML files load into this."""

    gradient_accumulation_steps: int = Field(
        1, gt=0, description="Micro-batches per optimizer step (effective batch = batch x gpus x this)."
    )
    sync_batch_norms: bool = Field(False, description="Convert BatchNorm to SyncBatchNorm on multi-GPU.")
    find_unused_parameters: bool = Field(True, description="DDP find_unused_parameters.")
    broadcast_buffers: bool = Field(True, description="DDP broadcast_buffers (sync BatchNorm stats).")
    enable_profiling: bool = Field(False, description="Write a torch.profiler trace.")
    profiling_warmup_steps: int = Field(5, ge=0, description="Profiler warm-up steps.")
    profiling_active_steps: int = Field(10, gt=0, description="Profiler active (recorded) steps.")
    profiling_output_dir: Path | None = Field(
        None, description="Trace folder (default <output_dir>/profiling)."
    )

    def effective_batch_size(self, num_processes: int | None = None) -> int:
        return self.batch_size * (num_processes or self.gpus) * self.gradient_accumulation_steps
