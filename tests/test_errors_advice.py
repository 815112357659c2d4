"""`advice_for`: the seed README's troubleshooting cases recognised on real exception objects."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from kuavo_cli.errors_advice import LowGpuUtilization, advice_for

MULTI = {
    "batch_size": 8,
    "gpus": 4,
    "gradient_accumulation_steps": 4,
    "mixed_precision": "bf16",
    "num_workers": 4,
}


def test_cuda_oom_keeps_the_effective_batch():
    exc = torch.OutOfMemoryError(
        "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.65 GiB total capacity)"
    )
    advice = advice_for(exc, MULTI)
    assert advice is not None and "\n" not in advice
    assert "--batch-size 4 --grad-accum 8" in advice and "(4 x 4 GPU(s) x 8 = 128)" in advice
    assert "effective batch 128" in advice and "expandable_segments" in advice
    assert "bf16" not in advice  # already on


def test_cuda_oom_odd_batches_and_batch_one():
    oom = torch.cuda.OutOfMemoryError("CUDA out of memory.")
    six = advice_for(oom, {"batch_size": 6, "gpus": 2, "gradient_accumulation_steps": 1})
    assert "--batch-size 3 --grad-accum 2" in six and "= 12" in six
    seven = advice_for(oom, {"batch_size": 7, "gpus": 1, "gradient_accumulation_steps": 2})
    assert "--batch-size 1 --grad-accum 14" in seven
    one = advice_for(oom, {"batch_size": 1, "gpus": 1, "mixed_precision": "no"})
    assert "gradient_checkpointing" in one and "bf16" in one


def test_oom_found_behind_a_wrapping_error():
    try:
        try:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB")
        except torch.OutOfMemoryError as inner:
            raise RuntimeError("training step 120 failed") from inner
    except RuntimeError as outer:
        advice = advice_for(outer, {**MULTI, "num_processes": 2})
    assert "(4 x 2 GPU(s) x 8 = 64)" in advice  # the launched process count wins over `gpus`


def _real_ddp_unused_parameter_error(store: Path) -> RuntimeError:
    """DDP (gloo, one CPU process) on a module with a parameter the loss never uses."""
    import torch.distributed as dist

    class TwoHeads(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)

        def forward(self, x):
            return self.used(x)

    dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)
    try:
        model = torch.nn.parallel.DistributedDataParallel(TwoHeads(), find_unused_parameters=False)
        for _ in range(2):
            model(torch.ones(1, 2)).sum().backward()
    except RuntimeError as err:
        return err
    finally:
        dist.destroy_process_group()
    raise AssertionError("DDP did not complain about the unused parameter")


def test_ddp_unused_parameters_real_error(tmp_path):
    err = _real_ddp_unused_parameter_error(tmp_path / "rendezvous")
    assert "Expected to have finished reduction in the prior iteration" in str(err)
    off = advice_for(err, {**MULTI, "find_unused_parameters": False})
    assert "find_unused_parameters: true" in off and "--set find_unused_parameters=true" in off
    on = advice_for(err, {**MULTI, "find_unused_parameters": True})
    assert "TORCH_DISTRIBUTED_DEBUG=DETAIL" in on


def test_nccl_errors():
    exc = torch.distributed.DistBackendError(
        "NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled system error"
    )
    assert "NCCL_DEBUG=INFO" in advice_for(exc, MULTI)
    timeout = RuntimeError(
        "[Rank 1] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=5) ran for 600000 ms"
    )
    assert "waited too long" in advice_for(timeout, MULTI)


def test_low_gpu_utilisation_and_host_memory():
    advice = advice_for(LowGpuUtilization(0.62), {"num_workers": 0, "prefetch_factor": 2, "gpus": 1})
    assert "62%" in advice and "num_workers" in advice
    host = RuntimeError(
        "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: 8589934592 bytes"
    )
    assert "num_workers" in advice_for(host, MULTI)


@pytest.mark.parametrize("exc", [ValueError("bad value"), KeyError("policy"), RuntimeError("shape mismatch")])
def test_unknown_errors_get_no_advice(exc):
    assert advice_for(exc, MULTI) is None
