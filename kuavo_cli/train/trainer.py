"""One Accelerate trainer for 1..N processes. Read top to bottom: setup, then train() = the step loop.

Seed-compatible API: `Trainer(cfg, use_distributed=None)`, `trainer.setup(loss_key="loss")`, `trainer.train()`.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from kuavo_cli import checkpoints as ckpt
from kuavo_cli.config.models import BaseTrainConfig, TrainConfig
from kuavo_cli.data.batch import images_to_float
from kuavo_cli.train import data, lerobot_bridge, preflight, processors, rng, tracking
from kuavo_cli.train.best import BestTracker
from kuavo_cli.train.losses import check_sample_weighting, extract_loss, weighted_loss
from kuavo_cli.train.process_state import TrainingInterrupted, reset_accelerate_singletons, set_cudnn
from kuavo_cli.train.run_dir import RunDir
from kuavo_cli.train.signals import agreed_stop, stop_flag_on_signals


class Trainer:
    def __init__(
        self,
        cfg: BaseTrainConfig,
        use_distributed: bool | None = None,
        console: Console | None = None,
    ):
        if not isinstance(cfg, TrainConfig):
            cfg = TrainConfig.model_validate(cfg.model_dump())
        self.cfg = cfg
        self.use_distributed = use_distributed
        self.console = console or Console(stderr=True)
        self.loss_key = "loss"
        self.is_setup = False
        self._stop_signal: str | None = None
        self._data_wait_s = 0.0
        self.val_loss: float | None = None  # the last validation loss and checkpoint of train()
        self.last_saved: Path | None = None

    # ---------------------------------------------------------------- setup
    def setup(self, loss_key: str = "loss", resume_from: Path | None = None) -> Trainer:
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs

        cfg = self.cfg
        self.loss_key = loss_key
        reset_accelerate_singletons()
        ddp = DistributedDataParallelKwargs(
            find_unused_parameters=cfg.find_unused_parameters, broadcast_buffers=cfg.broadcast_buffers
        )
        force_cpu = cfg.cpu or cfg.policy.overrides().get("device") == "cpu"
        self.accelerator = acc = Accelerator(
            gradient_accumulation_steps=cfg.gradient_accumulation_steps,
            mixed_precision=cfg.mixed_precision,
            cpu=force_cpu,
            kwargs_handlers=[ddp],
            step_scheduler_with_optimizer=False,
        )
        preflight.check_accelerator(cfg, acc)
        self.world = acc.num_processes
        self.distributed = self.use_distributed if self.use_distributed is not None else self.world > 1
        self.is_main = acc.is_main_process
        set_cudnn(cfg.cudnn_deterministic)
        if cfg.seed is not None:
            rng.seed_all_ranks(cfg.seed)  # rank r: seed + r (rank 0 draws what lerobot-train draws)

        self.run = RunDir.prepare(
            cfg,
            acc,
            resume_from,
            lambda step_dir: preflight.check_resume_topology(
                step_dir, self.world, cfg.batch_size, cfg.gradient_accumulation_steps
            ),
        )
        resume_step_dir = self.run.resume_step_dir
        meta = data.load_metadata(cfg)
        # As lerobot's make_dataset: camera mean/std become ImageNet's before policy and processors see them.
        self.imagenet_cameras = (
            processors.apply_imagenet_stats(meta) if cfg.dataset.use_imagenet_stats else []
        )
        self.split = data.split_episodes(cfg, meta.total_episodes, meta)

        from kuavo_cli.train.hub_assets import check_policy_assets

        check_policy_assets(cfg)
        policy_cfg = lerobot_bridge.make_policy_config(cfg, device=acc.device.type)
        if resume_step_dir is not None:
            policy_cfg.pretrained_path = resume_step_dir / "pretrained_model"
            policy_cfg.use_peft = cfg.peft is not None  # lerobot loads the saved adapter on its base model
        self.train_set = data.make_dataset(cfg, meta, policy_cfg, self.split.train_episodes, train=True)
        self.val_set = data.make_dataset(cfg, meta, policy_cfg, self.split.val_episodes, train=False)
        pin = acc.device.type == "cuda"
        self.loader, self.sampler = data.make_train_loader(
            cfg, self.train_set, policy_cfg, acc.process_index, self.world, self.distributed, pin
        )
        self.val_loader = data.make_val_loader(cfg, self.val_set, acc.process_index, self.world, pin)

        policy = lerobot_bridge.make_policy(policy_cfg, meta, cfg.rename_map)
        self.policy_cfg = policy.config
        opt_cfg, sched_cfg = lerobot_bridge.make_optim_configs(cfg, self.policy_cfg)
        self.grad_clip_norm = opt_cfg.grad_clip_norm
        self.lerobot_cfg = lerobot_bridge.make_lerobot_train_config(
            cfg, self.policy_cfg, opt_cfg, sched_cfg, self.run.path
        )
        check_sample_weighting(cfg, policy)
        policy = lerobot_bridge.wrap_with_peft(policy, self.lerobot_cfg)
        self.preprocessor, self.postprocessor = processors.make_processors(
            self.policy_cfg, policy, meta.stats, acc.device.type, cfg.rename_map, resume_step_dir is not None
        )
        from lerobot.optim.factory import make_optimizer_and_scheduler

        optimizer, scheduler = make_optimizer_and_scheduler(self.lerobot_cfg, policy)
        self.sample_weighter = None
        if self.lerobot_cfg.sample_weighting is not None:
            from lerobot.utils.sample_weighting import make_sample_weighter

            self.sample_weighter = make_sample_weighter(
                self.lerobot_cfg.sample_weighting, policy, acc.device, cfg.dataset.root, cfg.dataset.repo_id
            )
        self.step = 0
        if resume_step_dir is not None:
            from lerobot.common.train_utils import load_training_state

            self.step, optimizer, scheduler = load_training_state(resume_step_dir, optimizer, scheduler)
            rng.restore_own_state(resume_step_dir, acc.process_index)
        policy, self.sync_bn_note = preflight.apply_sync_batch_norms(cfg, policy, self.world)
        if cfg.compile:
            policy = torch.compile(policy)
        self.num_params = sum(p.numel() for p in policy.parameters())
        self.num_trainable = sum(p.numel() for p in policy.parameters() if p.requires_grad)
        if scheduler is not None:
            self.policy, self.optimizer, self.scheduler = acc.prepare(policy, optimizer, scheduler)
        else:
            self.policy, self.optimizer = acc.prepare(policy, optimizer)
            self.scheduler = None
        micro_done = self.step * cfg.gradient_accumulation_steps
        self.sampler.load_state_dict(self.sampler.position_for(micro_done, cfg.batch_size, self.distributed))
        self.best = BestTracker(self.run.state.get("best_val_loss", float("inf")))
        self.metrics = tracking.MetricsLog(self.run.path / "metrics.jsonl", self.is_main)
        self.metrics.truncate_after(self.step)
        self.trace = tracking.RankTrace(acc.process_index)
        self.data_bound = tracking.DataBoundWarning(self.console, cfg, self.is_main)
        self.eff_batch = cfg.effective_batch_size(self.world)
        if self.is_main:
            self.run.write_split(self.split)
        self.is_setup = True
        return self

    # ---------------------------------------------------------------- train
    def train(self) -> dict[str, Any]:
        """The step loop, as accelerate's canonical one: step, log, validate and save, all ranks stop together."""
        if not self.is_setup:
            self.setup(self.loss_key)
        cfg, acc = self.cfg, self.accelerator
        self.val_loss, self.last_saved = None, None
        with ExitStack() as stack:  # closed in reverse: profiler, progress bar, signal handlers, wandb
            saved_id = self.run.state.get("wandb_run_id")  # a resumed run continues its wandb run
            self.wandb = tracking.WandbLog(cfg, self.run.path, self.is_main, cfg.wandb.run_id or saved_id)
            stack.callback(self.wandb.finish)
            stack.enter_context(stop_flag_on_signals(self._on_signal))
            self._announce()
            batches, window = self._batches(), tracking.LossWindow(acc.device)
            if self.step == 0:  # the untrained baseline, so every run shows how far training moved it
                self._validate_and_record(initial=True)
            progress = stack.enter_context(tracking.make_progress(self.console, self.is_main))
            profiler = stack.enter_context(tracking.make_profiler(cfg, self.run.path, self.is_main))
            task = progress.add_task("train", total=cfg.steps, completed=self.step, stats="")
            while self.step < cfg.steps:
                loss, grad_norm = self._optimizer_step(batches)
                self.step += 1
                window.add(loss)
                if profiler is not None:
                    profiler.step()
                if self._due(cfg.log_freq):
                    progress.update(task, stats=self._log_window(window, grad_norm))
                stop, saved_now = self._validate_and_save()
                progress.update(task, completed=self.step)
                if stop:
                    raise TrainingInterrupted(self._stop_signal or "signal", self.step, saved_now)
            self._trace("end")
            acc.wait_for_everyone()
        return self._summary()

    def _trace(self, event: str, indices: list[int] | None = None, sums: torch.Tensor | None = None) -> None:
        """The debug rank trace's one hook (KUAVO_TRACE_DIR, tracking.RankTrace; off: a no-op). step: samples
        this rank consumed, its next random draws; val: its local sums; end: a checksum of its parameters."""
        if not self.trace.enabled:
            return
        if event == "step":
            record = {"step": self.step + 1, "indices": indices, "next_rand": rng.peek() if indices else None}
        elif event == "val":
            record = {"step": self.step, "val_sum": sums[0].item(), "val_count": sums[1].item()}
        else:
            params = self.accelerator.unwrap_model(self.policy).parameters()
            record = {"param_checksum": float(sum(p.detach().double().sum() for p in params))}
        self.trace.write(record)

    def _due(self, freq: int) -> bool:
        return self.step % freq == 0 or self.step == self.cfg.steps

    def _on_signal(self, name: str) -> None:
        self._stop_signal = name

    def _announce(self) -> None:
        """One line saying what trains where (main process)."""
        if not self.is_main:
            return
        cfg, n = self.cfg, self.num_trainable
        trainable = "" if n == self.num_params else f" ({n:,} trainable)"
        self.console.print(
            f"[bold]kuavo train[/bold] {self.policy_cfg.type}: {self.num_params / 1e6:.2f}M params{trainable}, "
            f"{len(self.split.train_episodes)} train / {len(self.split.val_episodes)} val episodes, "
            f"{self.world} process(es) on {self.accelerator.device.type}, effective batch {self.eff_batch} "
            f"({cfg.batch_size} x {self.world} x {cfg.gradient_accumulation_steps}), run {self.run.path}"
        )
        if self.sync_bn_note:
            self.console.print(self.sync_bn_note)

    def _summary(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run.path),
            "steps": self.step,
            "best_val_loss": self.best.best_val,
            "last_val_loss": self.val_loss,
            "last_checkpoint": str(self.last_saved) if self.last_saved else None,
            "effective_batch_size": self.eff_batch,
            "num_processes": self.world,
            "rank": self.accelerator.process_index,
        }

    def _log_window(self, window: tracking.LossWindow, grad_norm: float) -> str:
        """One metrics.jsonl / wandb record for the steps since the last log; returns the progress text."""
        seconds, n = window.seconds(), window.n
        mean_loss = self.accelerator.reduce(window.mean(), reduction="mean").item()
        record = {
            "step": self.step,
            "split": "train",
            "loss": mean_loss,
            "lr": self.optimizer.param_groups[0]["lr"],
            "grad_norm": float(grad_norm),
            "samples_per_s": n * self.eff_batch / max(seconds, 1e-9),
            "epoch": self.step * self.eff_batch / max(len(self.train_set), 1),
            "data_wait_fraction": min(self._data_wait_s / max(seconds, 1e-9), 1.0),
        }
        self._data_wait_s = 0.0
        self.data_bound.check(record["data_wait_fraction"], self.step)
        self.metrics.write(record)
        self.wandb.log({f"train/{k}": v for k, v in record.items() if k != "split"}, self.step)
        window.reset()
        return f"loss {mean_loss:.4f} lr {record['lr']:.1e} {record['samples_per_s']:.1f} samples/s"

    def _validate_and_save(self) -> tuple[bool, Path | None]:
        """End of a step: validate at eval_freq (keeping the best policy), agree on stopping, save at
        save_freq, the last step or a stop. Returns (stop, the checkpoint saved at this step or None)."""
        if self._due(self.cfg.eval_freq):
            self._validate_and_record()
        stop = agreed_stop(self._stop_signal is not None, self.accelerator, self.world)
        if not (self._due(self.cfg.save_freq) or stop):
            return stop, None
        self.last_saved = self.save(wandb_run_id=self.wandb.run_id)
        return stop, self.last_saved

    def _validate_and_record(self, initial: bool = False) -> None:
        """Validate, record the loss (metrics.jsonl, wandb) and, after training steps, keep the best policy."""
        loss = self.validate()
        model = self.accelerator.unwrap_model(self.policy)
        if initial:
            extra: dict[str, Any] = {"best": False, "initial": True}
        else:
            self.val_loss = loss
            extra = {"best": self.best.observe(self.step, loss, model, self.is_main)}
        self.metrics.write(
            {"step": self.step, "split": "val", "loss": loss, **extra, **self._val_by_dataset()}
        )
        self.wandb.log({"val/loss": loss, **self._val_by_dataset("val/loss/")}, self.step)

    def _batches(self):
        """Endless micro-batches; the sampler advances its epoch each time it is iterated again."""
        while True:
            yield from self.loader

    def _optimizer_step(self, batches) -> tuple[torch.Tensor, float]:
        """One optimizer step = gradient_accumulation_steps micro-batches under accelerator.accumulate."""
        acc, policy = self.accelerator, self.policy
        policy.train()
        total = torch.zeros((), device=acc.device)
        grad_norm = 0.0
        seen: list[int] = []
        for _ in range(self.cfg.gradient_accumulation_steps):
            t0 = time.perf_counter()
            raw = next(batches)
            self._data_wait_s += time.perf_counter() - t0
            if self.trace.enabled:
                seen.extend(int(i) for i in raw["index"])
            batch = self.preprocessor(images_to_float(raw, acc.device))
            with acc.accumulate(policy):
                with acc.autocast():
                    loss = self._loss(policy, batch)
                acc.backward(loss)
                if acc.sync_gradients:
                    max_norm = self.grad_clip_norm if self.grad_clip_norm > 0 else float("inf")
                    grad_norm = float(acc.clip_grad_norm_(policy.parameters(), max_norm))
                self.optimizer.step()
                if acc.sync_gradients and self.scheduler is not None:
                    self.scheduler.step()
                self.optimizer.zero_grad()
            total += loss.detach().float()
        unwrapped = acc.unwrap_model(policy)
        if hasattr(unwrapped, "update"):
            unwrapped.update()
        self._trace("step", indices=seen)
        return total / self.cfg.gradient_accumulation_steps, grad_norm

    def _loss(self, policy: Any, batch: dict[str, Any]) -> torch.Tensor:
        if self.sample_weighter is None:
            return extract_loss(policy(batch), self.loss_key)[0]
        return weighted_loss(policy, batch, self.sample_weighter)

    @torch.no_grad()
    def validate(self) -> float:
        """Mean loss over the same held-out frames each time, every sample of every rank counted once."""
        acc = self.accelerator
        model = acc.unwrap_model(self.policy)
        model.eval()
        sums = torch.zeros(2, device=acc.device, dtype=torch.float64)
        per_dataset = data.PerSourceLoss(self.val_set, acc.device)  # multi-task runs only
        devices = [acc.device.index or 0] if acc.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), acc.autocast():  # validation must not shift training RNG
            torch.manual_seed(self.cfg.seed or 0)
            for batch in self.val_loader:
                source = per_dataset.pop_source(batch)
                batch = self.preprocessor(images_to_float(batch, acc.device))
                loss, _ = extract_loss(model.forward(batch), self.loss_key)
                n = next(v.shape[0] for v in batch.values() if isinstance(v, torch.Tensor))
                sums += torch.stack([loss.detach().double() * n, torch.tensor(n, device=acc.device).double()])
                per_dataset.add(source, loss, n)
        model.train()
        self.val_per_dataset = per_dataset.reduce(acc)
        if self.val_per_dataset and self.is_main:
            self.console.print(
                f"val loss per dataset at step {self.step}: {data.describe(self.val_per_dataset)}"
            )
        self._trace("val", sums=sums)
        total = acc.gather_for_metrics(sums.unsqueeze(0)).reshape(-1, 2).sum(0)
        return (total[0] / total[1].clamp(min=1)).item()

    def _val_by_dataset(self, prefix: str = "") -> dict:
        """The last validation's loss per dataset (multi-task runs): {"val_datasets": {...}} for metrics."""
        losses = getattr(self, "val_per_dataset", {})
        if not losses:
            return {}
        return {f"{prefix}{k}": v for k, v in losses.items()} if prefix else {"val_datasets": losses}

    def save(self, wandb_run_id: str | None = None) -> Path | None:
        """Collective: every rank calls it (and hands its RNG state over), the main process writes."""
        acc = self.accelerator
        acc.wait_for_everyone()
        rank_states = rng.gather_states(acc)
        path = None
        if self.is_main:
            state = {
                "best_val_loss": self.best.best_val,
                "wandb_run_id": wandb_run_id,
                "num_processes": self.world,
                "gradient_accumulation_steps": self.cfg.gradient_accumulation_steps,
            }
            model = acc.unwrap_model(self.policy)
            path = ckpt.save_checkpoint_atomic(
                self.run.path,
                self.step,
                self.cfg.steps,
                self.lerobot_cfg,
                model,
                self.optimizer.optimizer,
                self.scheduler.scheduler if self.scheduler is not None else None,
                self.preprocessor,
                self.postprocessor,
                self.world,
                self.cfg.batch_size,
                state,
                write_extra=lambda training_state: rng.write_states(training_state, rank_states),
            )
            parts = {"model": model, "lerobot_cfg": self.lerobot_cfg}
            parts.update(preprocessor=self.preprocessor, postprocessor=self.postprocessor)
            self.best.write(self.run.path, self.step, self.cfg.steps, parts)
            if self.cfg.only_last_best:
                ckpt.prune(path.parent)
            if self.cfg.save_checkpoint_to_hub:
                from lerobot.common.train_utils import push_checkpoint_to_hub

                push_checkpoint_to_hub(path, self.policy_cfg.repo_id, private=self.policy_cfg.private)
        acc.wait_for_everyone()
        return path
