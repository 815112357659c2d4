"""`--format onnx` / `--format torchscript`: the policy with its normalisation as one graph, checked against
PyTorch on export. One skeleton (build the module, save, reload and compare, write export_info.json), two
backends that differ only in how the graph is saved and run.

ONNX uses torch's TorchScript-based exporter (`dynamo=False`): it traces ACT in about a second and needs only
the `onnx` package, where the dynamo exporter would also need onnxscript. A TorchScript archive is loaded
with `torch.jit.load` (no arbitrary pickled Python objects), so it runs from C++ (libtorch) or Python
without lerobot installed.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
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

# A loaded graph: prepare(inputs) turns torch inputs into what the runtime takes (outside the timed call),
# run(prepared) returns the action chunk as a numpy array.
Runner = tuple[Callable[[list[Any]], Any], Callable[[Any], Any]]


@dataclass(frozen=True)
class GraphBackend:
    format: str  # the --format value
    label: str  # for messages
    runtime: str  # the latency key next to "pytorch"
    model_file: str
    save: Callable[[Any, list[InputSpec], Any, Path], None]  # (module, specs, policy config, path)
    load: Callable[[Path], Runner]
    require: Callable[[], None] = lambda: None
    info: dict[str, Any] = field(default_factory=dict)  # extra export_info.json fields


def export_graph(
    backend: GraphBackend, ref: CheckpointRef, out: Path, force: bool = False, atol: float = DEFAULT_ATOL
) -> ExportResult:
    check_graph_policy(policy_type(ref), backend.label)
    backend.require()
    check_out(out, force)
    module, specs, cfg = build_module(ref)
    with staged_dir(out, force) as stage:
        path = stage / backend.model_file
        backend.save(module, specs, cfg, path)
        check = verify_graph(backend, path, module, specs, atol)
        info = {**io_description(specs, cfg), "policy_type": cfg.type, **backend.info, "verification": check}
        (stage / "export_info.json").write_text(json.dumps(info, indent=2) + "\n")
        shutil.copy2(ref.pretrained_dir / "config.json", stage / "policy_config.json")
        assert_clean(stage, extra_literals=source_paths(ref))
    return ExportResult(backend.format, out, list_files(out), details={"policy_type": cfg.type, **check})


def verify_graph(
    backend: GraphBackend, path: Path, module: Any, specs: list[InputSpec], atol: float = DEFAULT_ATOL
) -> dict[str, Any]:
    """Run the saved graph and the eager module on the same inputs (batch 1 and 2); raise (exit 1) if they
    disagree by more than `atol`; time both on batch 1."""
    prepare, run = backend.load(path)
    diff = 0.0
    for batch in (1, 2):
        inputs = example_inputs(specs, batch=batch, seed=batch)
        diff = max(diff, max_abs_diff(run(prepare(inputs)), reference_outputs(module, inputs)))
    check_parity(diff, atol, f"the {backend.label} model")
    inputs1 = example_inputs(specs, batch=1, seed=1)
    prepared1 = prepare(inputs1)
    return {
        "max_abs_diff": diff,
        "atol": atol,
        "latency_ms": {
            "pytorch": torch_latency(module, inputs1),
            backend.runtime: latency_ms(lambda: run(prepared1)),
        },
    }


# ---- ONNX ---------------------------------------------------------------------------------------------


def require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as err:
        raise KuavoError(
            f"ONNX export needs the onnx and onnxruntime packages ({err.name} is missing)",
            "pip install 'kuavo-cli[export]'",
        ) from err


def _save_onnx(module: Any, specs: list[InputSpec], cfg: Any, path: Path) -> None:
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
    _add_onnx_metadata(path, specs, cfg)


def _add_onnx_metadata(path: Path, specs: list[InputSpec], cfg: Any) -> None:
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


def _load_onnx(path: Path) -> Runner:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:
        raise KuavoError(f"onnxruntime cannot load {path.name}: {err}") from err
    names = [i.name for i in session.get_inputs()]

    def prepare(inputs: list[Any]) -> dict[str, Any]:
        return {name: x.numpy() for name, x in zip(names, inputs, strict=True)}

    return prepare, lambda feeds: session.run(["action"], feeds)[0]


ONNX = GraphBackend(
    "onnx", "ONNX", "onnxruntime", "model.onnx", _save_onnx, _load_onnx, require_onnx, {"opset": OPSET}
)


def verify_onnx_file(onnx_path: Path, checkpoint: Path, atol: float = DEFAULT_ATOL) -> dict[str, Any]:
    """Re-check an exported (or since modified) .onnx file against the checkpoint it came from."""
    ref = resolve_checkpoint(checkpoint)
    check_graph_policy(policy_type(ref), ONNX.label)
    require_onnx()
    module, specs, _ = build_module(ref)
    return verify_graph(ONNX, Path(onnx_path), module, specs, atol)


# ---- TorchScript --------------------------------------------------------------------------------------

TORCHSCRIPT_FILE = "model.torchscript.pt"


def _save_torchscript(module: Any, specs: list[InputSpec], cfg: Any, path: Path) -> None:
    import torch

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            traced = torch.jit.trace(module, example_inputs(specs), check_trace=False)
        except Exception as err:
            raise KuavoError(f"torch.jit.trace failed: {err}", "use --format onnx or lerobot") from err
        torch.jit.save(traced, str(path))


def _load_torchscript(path: Path) -> Runner:
    import torch

    loaded = torch.jit.load(str(path), map_location="cpu").eval()

    def run(inputs: list[Any]) -> Any:
        with torch.no_grad():
            return loaded(*inputs).numpy()

    return list, run


TORCHSCRIPT = GraphBackend(
    "torchscript", "TorchScript", "torchscript", TORCHSCRIPT_FILE, _save_torchscript, _load_torchscript,
    info={"load": f"torch.jit.load('{TORCHSCRIPT_FILE}')(*inputs in the order above)"},
)  # fmt: skip
BACKENDS = {b.format: b for b in (ONNX, TORCHSCRIPT)}
