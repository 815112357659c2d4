"""Entry points of `kuavo export` (one call per format) and of the export step of `kuavo demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from kuavo_cli.checkpoints import resolve_checkpoint, verify_pretrained_dir
from kuavo_cli.errors import UsageError
from kuavo_cli.export.common import FORMATS, ExportResult, default_out
from kuavo_cli.export.policy_graph import DEFAULT_ATOL


def run_export(
    checkpoint: str | Path,
    fmt: str,
    out: str | Path | None = None,
    *,
    task: int | None = None,
    team: str | None = None,
    push_to_hub: str | None = None,
    private: bool | None = None,
    force: bool = False,
    atol: float = DEFAULT_ATOL,
    device: str = "cuda",
    kit_dir: str | Path | None = None,
    client: bool = False,
    console: Console | None = None,
) -> dict[str, Any]:
    """Export CHECKPOINT (a run, a checkpoints/<step> or a pretrained_model folder) in one format."""
    console = console or Console(stderr=True)
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    if push_to_hub is not None:
        from kuavo_cli.export.hub import check_can_push

        if fmt != "lerobot":
            raise UsageError("--push-to-hub uploads the lerobot bundle", "use it with --format lerobot")
        check_can_push(push_to_hub)
    if client and fmt not in ("kit", "submission"):
        raise UsageError("--client is for --format kit and --format submission (the kit's client mode)")
    if not atol > 0:
        raise UsageError(f"--atol {atol} must be > 0")
    ref = resolve_checkpoint(checkpoint)
    verify_pretrained_dir(ref.pretrained_dir)  # never ship a file we have not checked is whole
    out_dir = Path(out) if out is not None else default_out(ref, fmt)
    _refuse_overlap(ref, out_dir)
    with console.status(f"Exporting {ref.pretrained_dir} as {fmt}"):
        result = _dispatch(ref, fmt, out_dir, task, team, force, atol, device, kit_dir, client)
    if push_to_hub is not None:
        from kuavo_cli.export.hub import push_folder

        with console.status(f"Uploading {out_dir} to {push_to_hub}"):
            result.details["hub"] = push_folder(out_dir, push_to_hub, private=private)
    return {"checkpoint": str(ref.pretrained_dir), "step": ref.step, **result.to_dict()}


def _dispatch(
    ref: Any,
    fmt: str,
    out: Path,
    task: int | None,
    team: str | None,
    force: bool,
    atol: float,
    device: str,
    kit_dir: str | Path | None,
    client: bool = False,
) -> ExportResult:
    if fmt == "lerobot":
        from kuavo_cli.export.lerobot_bundle import export_lerobot

        return export_lerobot(ref, out, force=force)
    if fmt == "kit" and client:
        from kuavo_cli.export.client_mode import export_kit_client

        return export_kit_client(ref, out, task=task, device=device, force=force)
    if fmt == "kit":
        from kuavo_cli.export.kit import export_kit

        return export_kit(ref, out, task=task, device=device, force=force)
    if fmt in ("onnx", "torchscript"):
        from kuavo_cli.export.graph_export import BACKENDS, export_graph

        return export_graph(BACKENDS[fmt], ref, out, force=force, atol=atol)
    from kuavo_cli.export.submission import export_submission

    return export_submission(
        ref,
        out,
        team,
        task,
        force=force,
        device=device,
        kit_dir=Path(kit_dir) if kit_dir else None,
        client=client,
    )


def run_demo_export(run_dir: Path, data_root: Path, out_dir: Path, console: Console | None = None) -> dict:
    """`kuavo demo` step 4: the run's best checkpoint as a lerobot bundle and as a verified ONNX model."""
    console = console or Console(stderr=True)
    bundle = run_export(run_dir, "lerobot", Path(out_dir) / "lerobot", force=True, console=console)
    onnx = run_export(run_dir, "onnx", Path(out_dir) / "onnx", force=True, console=console)
    lat = onnx["latency_ms"]
    console.print(f"lerobot bundle: {bundle['out']} (step {bundle['step']})")
    console.print(
        f"ONNX: {onnx['out']}/model.onnx, max |onnx - torch| = {onnx['max_abs_diff']:.2e}, "
        f"latency {lat['onnxruntime']} ms (onnxruntime) vs {lat['pytorch']} ms (PyTorch)"
    )
    return {
        "checkpoint": bundle["checkpoint"],
        "step": bundle["step"],
        "lerobot": bundle["out"],
        "onnx": onnx["out"],
        "onnx_max_abs_diff": onnx["max_abs_diff"],
        "latency_ms": lat,
    }


def _refuse_overlap(ref: Any, out: Path) -> None:
    """--out must not be the checkpoint or a folder holding it: --force would delete what we export."""
    target = out.resolve()
    for src in (ref.pretrained_dir, ref.step_dir, ref.run_dir):
        if src is not None and src.resolve().is_relative_to(target):
            raise UsageError(
                f"--out {out} contains the checkpoint being exported", "choose an --out outside it"
            )
