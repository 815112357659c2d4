"""`--format onnx`: the policy with its normalisation as one ONNX graph, checked against PyTorch on export.

We use torch's TorchScript-based exporter (`dynamo=False`): it traces ACT in about a second and needs only
the `onnx` package, where the dynamo exporter would also need onnxscript.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

from kuavo_cli.checkpoints import CheckpointRef, resolve_checkpoint
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

OPSET = 17
MODEL_FILE = "model.onnx"


def require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as err:
        raise KuavoError(
            f"ONNX export needs the onnx and onnxruntime packages ({err.name} is missing)",
            "pip install 'kuavo-cli[export]'",
        ) from err


def export_onnx(
    ref: CheckpointRef, out: Path, force: bool = False, atol: float = DEFAULT_ATOL
) -> ExportResult:
    check_graph_policy(policy_type(ref), "ONNX")
    require_onnx()
    check_out(out, force)
    module, specs, cfg = build_module(ref)
    with staged_dir(out, force) as stage:
        path = stage / MODEL_FILE
        _torch_export(module, specs, path)
        _add_metadata(path, specs, cfg)
        check = verify_onnx(path, module, specs, atol)
        info = {**io_description(specs, cfg), "policy_type": cfg.type, "opset": OPSET, "verification": check}
        (stage / "export_info.json").write_text(json.dumps(info, indent=2) + "\n")
        shutil.copy2(ref.pretrained_dir / "config.json", stage / "policy_config.json")
        assert_clean(stage, extra_literals=source_paths(ref))
    return ExportResult("onnx", out, list_files(out), details={"policy_type": cfg.type, **check})


def _torch_export(module: Any, specs: list[InputSpec], path: Path) -> None:
    import torch

    names = [s.name for s in specs]
    axes = {**{n: {0: "batch"} for n in names}, "action": {0: "batch"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation warnings about code we do not own
        try:
            torch.onnx.export(
                module,
                example_inputs(specs),
                str(path),
                input_names=names,
                output_names=["action"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        except Exception as err:
            raise KuavoError(
                f"torch.onnx.export failed: {err}", "run with --debug for the traceback"
            ) from err


def _add_metadata(path: Path, specs: list[InputSpec], cfg: Any) -> None:
    import onnx

    model = onnx.load(str(path))
    meta = {
        "kuavo.policy_type": cfg.type,
        "kuavo.chunk_size": str(cfg.chunk_size),
        "kuavo.n_action_steps": str(cfg.n_action_steps),
        "kuavo.inputs": json.dumps({s.name: list(s.shape) for s in specs}),
        "kuavo.normalisation": "in-graph",
    }
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def verify_onnx(
    path: Path, module: Any, specs: list[InputSpec], atol: float = DEFAULT_ATOL
) -> dict[str, Any]:
    """Run onnxruntime and PyTorch on the same inputs (batch 1 and 2); raise (exit 1) if they disagree."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:
        raise KuavoError(f"onnxruntime cannot load {path.name}: {err}") from err
    diff = 0.0
    feeds1: dict[str, Any] = {}
    for batch in (1, 2):
        inputs = example_inputs(specs, batch=batch, seed=batch)
        feeds = {s.name: x.numpy() for s, x in zip(specs, inputs, strict=True)}
        got = session.run(["action"], feeds)[0]
        diff = max(diff, max_abs_diff(got, reference_outputs(module, inputs)))
        if batch == 1:
            feeds1, inputs1 = feeds, inputs
    check_parity(diff, atol, "the ONNX model")
    return {
        "max_abs_diff": diff,
        "atol": atol,
        "latency_ms": {
            "pytorch": torch_latency(module, inputs1),
            "onnxruntime": latency_ms(lambda: session.run(["action"], feeds1)),
        },
    }


def verify_onnx_file(onnx_path: Path, checkpoint: Path, atol: float = DEFAULT_ATOL) -> dict[str, Any]:
    """Re-check an exported (or since modified) .onnx file against the checkpoint it came from."""
    ref = resolve_checkpoint(checkpoint)
    check_graph_policy(policy_type(ref), "ONNX")
    require_onnx()
    module, specs, _ = build_module(ref)
    return verify_onnx(Path(onnx_path), module, specs, atol)
