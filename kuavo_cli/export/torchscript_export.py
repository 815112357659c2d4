"""`--format torchscript`: the same normalised policy graph as ONNX, traced with torch.jit.

A TorchScript archive is loaded with `torch.jit.load` (no arbitrary pickled Python objects), so it can run
from C++ (libtorch) or Python without lerobot installed.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

from kuavo_cli.checkpoints import CheckpointRef
from kuavo_cli.errors import KuavoError
from kuavo_cli.export.common import ExportResult, check_out, list_files, policy_type, source_paths, staged_dir
from kuavo_cli.export.policy_graph import (
    DEFAULT_ATOL,
    InputSpec,
    build_module,
    check_graph_policy,
    check_parity,
    example_inputs,
    io_description,
    latency_ms,
    max_abs_diff,
    reference_outputs,
    torch_latency,
)
from kuavo_cli.export.scrub import assert_clean

MODEL_FILE = "model.torchscript.pt"


def export_torchscript(
    ref: CheckpointRef, out: Path, force: bool = False, atol: float = DEFAULT_ATOL
) -> ExportResult:
    import torch

    check_graph_policy(policy_type(ref), "TorchScript")
    check_out(out, force)
    module, specs, cfg = build_module(ref)
    with staged_dir(out, force) as stage:
        path = stage / MODEL_FILE
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            try:
                traced = torch.jit.trace(module, example_inputs(specs), check_trace=False)
            except Exception as err:
                raise KuavoError(f"torch.jit.trace failed: {err}", "use --format onnx or lerobot") from err
            torch.jit.save(traced, str(path))
        check = verify_torchscript(path, module, specs, atol)
        info = {**io_description(specs, cfg), "policy_type": cfg.type, "verification": check}
        info["load"] = f"torch.jit.load('{MODEL_FILE}')(*inputs in the order above)"
        (stage / "export_info.json").write_text(json.dumps(info, indent=2) + "\n")
        shutil.copy2(ref.pretrained_dir / "config.json", stage / "policy_config.json")
        assert_clean(stage, extra_literals=source_paths(ref))
    return ExportResult("torchscript", out, list_files(out), details={"policy_type": cfg.type, **check})


def verify_torchscript(
    path: Path, module: Any, specs: list[InputSpec], atol: float = DEFAULT_ATOL
) -> dict[str, Any]:
    """Reload the saved archive and compare it with the eager module (batch 1 and 2)."""
    import torch

    loaded = torch.jit.load(str(path), map_location="cpu").eval()
    diff = 0.0
    for batch in (1, 2):
        inputs = example_inputs(specs, batch=batch, seed=batch)
        with torch.no_grad():
            got = loaded(*inputs).numpy()
        diff = max(diff, max_abs_diff(got, reference_outputs(module, inputs)))
    check_parity(diff, atol, "the TorchScript model")
    inputs1 = example_inputs(specs, batch=1, seed=1)

    def run_loaded() -> None:
        with torch.no_grad():
            loaded(*inputs1)

    return {
        "max_abs_diff": diff,
        "atol": atol,
        "latency_ms": {"pytorch": torch_latency(module, inputs1), "torchscript": latency_ms(run_loaded)},
    }
