"""`gpus: N>1`: relaunch `kuavo train` under `accelerate launch`, once, with N processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from kuavo_cli.errors import KuavoError, UsageError

if TYPE_CHECKING:
    from kuavo_cli.config.models import TrainConfig

LAUNCHED_ENV = "KUAVO_LAUNCHED"


def inside_launcher() -> bool:
    """True in a process started by accelerate/torchrun (or by our own relaunch)."""
    return os.environ.get(LAUNCHED_ENV) == "1" or int(os.environ.get("WORLD_SIZE", "1")) > 1


def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch_command(
    num_processes: int,
    child_args: list[str],
    mixed_precision: str = "no",
    cpu: bool = False,
    main_process_port: int | None = None,
    accelerate_config: Path | None = None,
) -> list[str]:
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if accelerate_config is not None:
        if not Path(accelerate_config).exists():
            raise UsageError(
                f"accelerate config {accelerate_config} does not exist", "create it: accelerate config"
            )
        cmd += ["--config_file", str(accelerate_config)]
    # --multi_gpu starts N processes through torchrun; with cpu the children pick gloo (MULTI_CPU).
    cmd += [
        "--multi_gpu",
        "--num_processes", str(num_processes),
        "--num_machines", "1",
        "--mixed_precision", mixed_precision,
        "--dynamo_backend", "no",
        "--main_process_port", str(main_process_port or free_port()),
        "-m", "kuavo_cli", "train", *child_args,
    ]  # fmt: skip
    if cpu and "--cpu" not in child_args:
        cmd.append("--cpu")
    return cmd


class LaunchedProcessesFailed(KuavoError):
    """The launched processes exited non-zero; they have already said why on stderr."""

    def __init__(self, exit_code: int):
        super().__init__(f"accelerate launch exited with code {exit_code} (the processes said why above)")
        self.exit_code = exit_code


def launch_training(
    cfg: TrainConfig,
    child_cli_args: Sequence[str] = (),
    main_process_port: int | None = None,
    accelerate_config: Path | None = None,
) -> int:
    """Train `cfg` (validated here, gpus > 1) on cfg.gpus processes: `kuavo train` on a copy of it in a
    temporary YAML, so the processes train exactly this config whether it came from a file, `--set`, flags,
    a resumed run or a Python object. Returns the exit code (0); raises `LaunchedProcessesFailed` otherwise."""
    from kuavo_cli.train.preflight import check_before_launch
    from kuavo_cli.train.run_dir import default_output_dir

    check_before_launch(cfg, accelerate_config)
    if cfg.output_dir is None and cfg.resume is False:  # every rank must agree on one (time-based) folder
        cfg = cfg.model_copy(update={"output_dir": default_output_dir(cfg)})
    with tempfile.TemporaryDirectory(prefix="kuavo-launch-") as tmp:
        config_file = Path(tmp) / "train_config.yaml"
        config_file.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
        child = [str(config_file), *child_cli_args]
        code = relaunch(cfg.gpus, child, cfg.mixed_precision, cfg.cpu, main_process_port, accelerate_config)
    if code != 0:
        raise LaunchedProcessesFailed(code)
    return code


def relaunch(
    num_processes: int,
    child_args: list[str],
    mixed_precision: str,
    cpu: bool,
    main_process_port: int | None,
    accelerate_config: Path | None,
) -> int:
    if not cpu:
        gpus = visible_gpus()
        if gpus == 0:
            raise UsageError(
                f"--gpus {num_processes} asked for GPUs but none is visible to torch",
                "check `kuavo doctor`, or add --cpu to run the processes on the CPU",
            )
        if gpus < num_processes:
            raise UsageError(
                f"--gpus {num_processes} but only {gpus} GPU(s) are visible", f"use --gpus {gpus}"
            )
    cmd = launch_command(
        num_processes, child_args, mixed_precision, cpu, main_process_port, accelerate_config
    )
    env = {**os.environ, LAUNCHED_ENV: "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    try:
        proc = subprocess.Popen(cmd, env=env)
    except OSError as err:
        raise KuavoError(f"could not start accelerate launch: {err}") from err
    return _wait_forwarding_sigterm(proc)


def _wait_forwarding_sigterm(proc: subprocess.Popen) -> int:
    """`kill <pid of kuavo train>` must reach the training processes, which then save and stop together;
    Ctrl-C already reaches them (same process group), so wait for their checkpoint instead of leaving."""
    forwarded: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        forwarded.append(signum)
        proc.send_signal(signum)

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, forward) if in_main else None
    interrupted = 0
    try:
        while True:
            try:
                code = proc.wait()
                break
            except KeyboardInterrupt:
                interrupted += 1
                if interrupted > 1:  # a second Ctrl-C: stop waiting
                    return 130
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    if forwarded and code != 0:
        return 143
    return 130 if interrupted and code != 0 else code
