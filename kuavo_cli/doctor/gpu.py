"""torch's CUDA build and the GPUs it sees, NCCL, and whether accelerate's default config fits them."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from dataclasses import dataclass, field

import yaml

from kuavo_cli.doctor.base import Check, accelerate_config_path, error, ok, short_error, warning

CUDA_WHEELS = "pip install torch --index-url https://download.pytorch.org/whl/cu128"


@dataclass
class GpuInventory:
    torch_version: str | None = None
    cuda_build: str | None = None  # torch.version.cuda (None: CPU-only build)
    devices: list[tuple[str, int]] = field(default_factory=list)  # (name, total bytes)
    bf16: bool = False
    problem: str | None = None  # torch missing / CUDA init failed

    @property
    def count(self) -> int:
        return len(self.devices)


def gpu_inventory() -> GpuInventory:
    inv = GpuInventory()
    try:
        import torch
    except Exception as err:  # a broken torch must not stop the other checks
        inv.problem = f"torch does not import: {short_error(err)}"
        return inv
    inv.torch_version = torch.__version__
    inv.cuda_build = torch.version.cuda
    try:
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                props = torch.cuda.get_device_properties(i)
                inv.devices.append((props.name, int(props.total_memory)))
            inv.bf16 = bool(torch.cuda.is_bf16_supported())
    except Exception as err:  # CUDA present but broken (driver mismatch, ...)
        inv.problem = f"CUDA initialisation failed: {short_error(err)}"
    return inv


def _has_nvidia_driver() -> bool:
    return shutil.which("nvidia-smi") is not None


def check_gpus(inv: GpuInventory) -> Check:
    if inv.torch_version is None:
        return error("gpus", inv.problem or "torch is not installed", CUDA_WHEELS)
    if inv.problem:
        return error(
            "gpus", inv.problem, "nvidia-smi  # check the driver; then reinstall torch: " + CUDA_WHEELS
        )
    if inv.cuda_build is None:
        detail = f"torch {inv.torch_version} is a CPU-only build"
        if _has_nvidia_driver():
            return error("gpus", detail + " but this machine has NVIDIA GPUs (nvidia-smi)", CUDA_WHEELS)
        return warning(
            "gpus",
            detail
            + " and no GPU is visible: training runs on the CPU (fine for `kuavo demo`, slow for real data)",
            "on a machine with an NVIDIA GPU: " + CUDA_WHEELS + "  # without one: kuavo train CONFIG --cpu",
        )
    if inv.count == 0:
        hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
        if hidden is not None:
            return warning(
                "gpus",
                f"torch {inv.torch_version} (CUDA {inv.cuda_build}) sees no GPU: CUDA_VISIBLE_DEVICES={hidden!r}",
                "unset CUDA_VISIBLE_DEVICES",
            )
        if not _has_nvidia_driver():
            return warning(
                "gpus",
                f"torch {inv.torch_version} (CUDA {inv.cuda_build}) but no NVIDIA driver (no nvidia-smi): "
                "training runs on the CPU (fine for `kuavo demo`, slow for real data)",
                "nvidia-smi  # must list your GPUs (install the NVIDIA driver); without one: kuavo train CONFIG --cpu",
            )
        return warning(
            "gpus",
            f"torch {inv.torch_version} (CUDA {inv.cuda_build}) sees no GPU although nvidia-smi exists",
            "nvidia-smi  # does it list a GPU? if not, the driver or the container's GPU access is missing",
        )
    names: dict[str, int] = {}
    for name, total in inv.devices:
        key = f"{name} ({total / 2**30:.0f} GiB)"
        names[key] = names.get(key, 0) + 1
    listed = ", ".join(f"{n} x {k}" for k, n in names.items())
    bf16 = "bf16 supported" if inv.bf16 else "no bf16 (use mixed_precision: fp16)"
    return ok("gpus", f"{listed}; torch {inv.torch_version}, CUDA {inv.cuda_build}; {bf16}")


def check_nccl(inv: GpuInventory) -> Check:
    try:
        import torch.distributed as dist
    except Exception as err:
        return error("nccl", f"torch.distributed does not import: {short_error(err)}", CUDA_WHEELS)
    if not dist.is_available():
        return error("nccl", "this torch build has no torch.distributed", CUDA_WHEELS)
    if inv.count == 0:
        gloo = "gloo available" if dist.is_gloo_available() else "gloo missing"
        return ok("nccl", f"not needed without GPUs ({gloo} for `kuavo train --gpus N --cpu`)")
    if not dist.is_nccl_available():
        return error(
            "nccl", f"{inv.count} GPU(s) but this torch build has no NCCL: multi-GPU cannot run", CUDA_WHEELS
        )
    try:
        import torch

        version = ".".join(str(v) for v in torch.cuda.nccl.version())
    except Exception:
        version = "version unknown"
    return ok("nccl", f"NCCL {version}")


def check_accelerate_config(inv: GpuInventory) -> Check:
    path, source = accelerate_config_path()
    reset = f"rm {shlex.quote(str(path))} && accelerate config default"
    if not path.is_file():
        if source == "ACCELERATE_CONFIG_FILE":
            return warning(
                "accelerate config",
                f"ACCELERATE_CONFIG_FILE={path} does not exist",
                "unset ACCELERATE_CONFIG_FILE",
            )
        return ok("accelerate config", "none (kuavo train passes --num_processes and mixed precision itself)")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as err:
        return warning("accelerate config", f"{path} does not parse: {short_error(err)}", reset)
    if not isinstance(data, dict):
        return warning("accelerate config", f"{path} is not a mapping", reset)
    procs = data.get("num_processes")
    kind = str(data.get("distributed_type", "NO"))
    where = f"{path} ({source}): distributed_type {kind}, num_processes {procs}"
    gpus = inv.count
    if data.get("use_cpu") and gpus > 0:
        return warning(
            "accelerate config", f"{where}, use_cpu true although {gpus} GPU(s) are present", reset
        )
    if isinstance(procs, int) and "GPU" in kind.upper() and procs != gpus:
        return warning(
            "accelerate config",
            f"{where}, but {gpus} GPU(s) are visible: plain `accelerate launch` would start the wrong number "
            "of processes (`kuavo train --gpus N` overrides it)",
            reset,
        )
    if isinstance(procs, int) and procs > max(gpus, 1) and not data.get("use_cpu"):
        return warning("accelerate config", f"{where}, but {gpus} GPU(s) are visible", reset)
    return ok("accelerate config", where)
