"""Translate a kuavo config into lerobot objects: policy config with dataset features, optimizer and
scheduler configs, and a lerobot `TrainPipelineConfig` (saved as train_config.json in every checkpoint so
lerobot's own tools can read our runs)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from kuavo_cli.config.models import TrainConfig
from kuavo_cli.config.policy import is_hub_model_id
from kuavo_cli.utils.logs import quiet_logs


def make_policy_config(cfg: TrainConfig, device: str) -> Any:
    fetch_pretrained_config(cfg.policy.overrides().get("pretrained_path"))
    return cfg.policy.to_lerobot(device=device)


def fetch_pretrained_config(pretrained_path: Any) -> None:
    """Bring a hub model's config.json into the HF cache before the policy config is built, so a fine-tune
    of a model not downloaded yet starts from that model's settings (lerobot-train reads them the same
    way); validation never downloads. Offline, or with no such repo, nothing happens here and lerobot's
    own loading of the weights reports the problem."""
    path = str(pretrained_path or "")
    if not is_hub_model_id(path):
        return
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    # See the docstring: on failure the weights' download names the repo and the reason.
    with contextlib.suppress(HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled, OSError):
        hf_hub_download(path, "config.json")


def make_optim_configs(cfg: TrainConfig, policy_cfg: Any) -> tuple[Any, Any]:
    """(optimizer config, scheduler config or None): the policy's lerobot preset, or our sections."""
    from lerobot.optim.optimizers import AdamConfig, AdamWConfig, SGDConfig
    from lerobot.optim.schedulers import (
        CosineDecayWithWarmupSchedulerConfig,
        DiffuserSchedulerConfig,
        VQBeTSchedulerConfig,
    )

    if cfg.uses_policy_preset():
        optimizer = policy_cfg.get_optimizer_preset()
        scheduler = policy_cfg.get_scheduler_preset()
        if cfg.optimizer is not None:  # an explicit lr / clip still applies on top of the preset
            optimizer.lr = cfg.optimizer.lr
            optimizer.grad_clip_norm = cfg.optimizer.grad_clip_norm
    else:
        opt = cfg.optimizer or _default_optimizer()
        common = {"lr": opt.lr, "weight_decay": opt.weight_decay, "grad_clip_norm": opt.grad_clip_norm}
        if opt.name == "adamw":
            optimizer = AdamWConfig(betas=opt.betas, eps=opt.eps, **common)
        elif opt.name == "adam":
            optimizer = AdamConfig(betas=opt.betas, eps=opt.eps, **common)
        else:
            optimizer = SGDConfig(momentum=opt.momentum, **common)
        scheduler = None
    if cfg.scheduler is not None:
        sch = cfg.scheduler
        if sch.type == "none":
            scheduler = None
        elif sch.type == "cosine_decay_with_warmup":
            scheduler = CosineDecayWithWarmupSchedulerConfig(
                num_warmup_steps=sch.num_warmup_steps,
                num_decay_steps=sch.num_decay_steps or cfg.steps,
                peak_lr=optimizer.lr,
                decay_lr=sch.decay_lr,
            )
        elif sch.type == "diffuser":
            scheduler = DiffuserSchedulerConfig(name="cosine", num_warmup_steps=sch.num_warmup_steps)
        else:
            scheduler = VQBeTSchedulerConfig(
                num_warmup_steps=sch.num_warmup_steps, num_vqvae_training_steps=0, num_cycles=0.5
            )
    return optimizer, scheduler


def _default_optimizer():
    from kuavo_cli.config.models import OptimizerSection

    return OptimizerSection()


def make_lerobot_train_config(
    cfg: TrainConfig, policy_cfg: Any, optimizer: Any, scheduler: Any, output_dir: Path
) -> Any:
    with quiet_logs():
        from lerobot.configs.default import DatasetConfig, WandBConfig
        from lerobot.configs.train import TrainPipelineConfig

        dataset = DatasetConfig(
            repo_id=cfg.dataset.repo_id,
            root=str(cfg.dataset.root) if cfg.dataset.root else None,
            episodes=cfg.dataset.episodes,
            revision=cfg.dataset.revision,
            use_imagenet_stats=cfg.dataset.use_imagenet_stats,
        )
        return TrainPipelineConfig(
            dataset=dataset,
            policy=policy_cfg,
            output_dir=output_dir,
            job_name=cfg.job_name,
            seed=cfg.seed,
            num_workers=cfg.num_workers,
            batch_size=cfg.batch_size,
            steps=cfg.steps,
            log_freq=cfg.log_freq,
            save_freq=cfg.save_freq,
            use_policy_training_preset=cfg.uses_policy_preset(),
            optimizer=optimizer,
            scheduler=scheduler,
            wandb=WandBConfig(enable=False, project=cfg.wandb.project, entity=cfg.wandb.entity),
            **lerobot_options_for(cfg),
        )


def lerobot_options_for(cfg: TrainConfig) -> dict[str, Any]:
    """The pass-through lerobot-train options as lerobot's own objects (saved in train_config.json)."""
    from kuavo_cli.config import lerobot_options

    return {
        "peft": lerobot_options.peft_config(cfg.peft) if cfg.peft is not None else None,
        "rename_map": dict(cfg.rename_map),
        "sample_weighting": (
            lerobot_options.sample_weighting_config(cfg.sample_weighting) if cfg.sample_weighting else None
        ),
        "cudnn_deterministic": cfg.cudnn_deterministic,
        "save_checkpoint_to_hub": cfg.save_checkpoint_to_hub,
    }


def wrap_with_peft(policy: Any, lerobot_cfg: Any) -> Any:
    """lerobot-train's PEFT step: wrap with adapters (base frozen), unless a resumed adapter is loaded."""
    import dataclasses

    from peft import PeftModel

    from kuavo_cli.errors import UsageError

    if lerobot_cfg.peft is None or isinstance(policy, PeftModel):
        return policy
    try:
        with quiet_logs():
            return policy.wrap_with_peft(peft_cli_overrides=dataclasses.asdict(lerobot_cfg.peft))
    except ValueError as err:
        raise UsageError(
            f"peft: {err}", "set peft.target_modules to module names of the policy, e.g. [linear1, linear2]"
        ) from err


def make_policy(policy_cfg: Any, meta: Any, rename_map: dict[str, str] | None = None) -> Any:
    """lerobot's own factory; its feature errors become one clear line naming the feature."""
    from lerobot.policies import make_policy as lerobot_make_policy

    from kuavo_cli.errors import UsageError

    try:
        with quiet_logs():
            return lerobot_make_policy(cfg=policy_cfg, ds_meta=meta, rename_map=rename_map or None)
    except (ValueError, KeyError) as err:
        features = ", ".join(sorted(meta.features))
        raise UsageError(
            f"policy '{policy_cfg.type}' cannot be built on this dataset: {err}",
            f"the dataset has features: {features}",
        ) from err
