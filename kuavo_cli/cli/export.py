"""`kuavo export CKPT --format ...`: a checkpoint as something the robot, the organisers and other tools run."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from kuavo_cli.cli.options import ForceOpt, JsonOpt, MaybeCheckpointArg
from kuavo_cli.cli.output import print_json, stderr_console, stdout_console
from kuavo_cli.errors import EXIT_RUNTIME, UsageError

EXAMPLE = "Example: kuavo export outputs/train/run1 --format onnx --out exports/run1-onnx"


class ExportFormat(StrEnum):
    lerobot = "lerobot"
    kit = "kit"
    onnx = "onnx"
    torchscript = "torchscript"
    submission = "submission"


def export(
    checkpoint: MaybeCheckpointArg = None,
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            "-f",
            help="lerobot: pretrained_model bundle + model card; kit: the competition deploy layout; onnx / "
            "torchscript: one verified graph with normalisation inside (ACT); submission: the organisers' package.",
        ),
    ] = ExportFormat.lerobot,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default: <run>/exports/<format>).")
    ] = None,
    task: Annotated[
        int | None, typer.Option("--task", help="Competition task number (kit folder name, submission name).")
    ] = None,
    team: Annotated[str | None, typer.Option("--team", help="Team name for the submission archive.")] = None,
    push_to_hub: Annotated[
        str | None,
        typer.Option("--push-to-hub", help="Upload the lerobot bundle to this hub repo (NAMESPACE/NAME)."),
    ] = None,
    private: Annotated[bool, typer.Option("--private", help="Create the hub repo as private.")] = False,
    device: Annotated[
        str, typer.Option("--device", help="kit/submission: device the processors target (cuda or cpu).")
    ] = "cuda",
    atol: Annotated[
        float, typer.Option("--atol", help="onnx/torchscript: max abs difference allowed vs PyTorch (fp32).")
    ] = 1e-4,
    kit: Annotated[
        Path | None,
        typer.Option(
            "--kit", help="submission: your kuavo_data_challenge checkout, to build the image here."
        ),
    ] = None,
    client: Annotated[
        bool,
        typer.Option(
            "--client",
            help="kit/submission: the kit's client mode; the policy runs in `kuavo serve` (automatic in "
            "submissions of policies the kit cannot load, e.g. pi05, smolvla).",
        ),
    ] = False,
    check: Annotated[
        Path | None,
        typer.Option(
            "--check",
            help="Verify a submission package (folder or archive) before upload instead of exporting.",
            show_default=False,
        ),
    ] = None,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Export a checkpoint: lerobot bundle, competition kit layout, ONNX, TorchScript or submission package."""
    if check is not None:
        if checkpoint is not None:
            raise UsageError("--check PACKAGE takes no CHECKPOINT", "kuavo export --check PACKAGE")
        _check(check, json_out)
        return
    if checkpoint is None:
        raise UsageError("kuavo export needs a CHECKPOINT (or --check PACKAGE)", "kuavo export --help")
    from kuavo_cli.export.api import run_export

    result = run_export(
        checkpoint, fmt.value, out, task=task, team=team, push_to_hub=push_to_hub, private=private or None,
        force=force, atol=atol, device=device, kit_dir=kit, client=client, console=stderr_console(),
    )  # fmt: skip
    if json_out:
        print_json(result)
        return
    _print_summary(result)


def _print_summary(result: dict) -> None:
    con = stdout_console()
    con.print(
        f"Exported {result['checkpoint']} (step {result['step']}) as {result['format']} -> {result['out']}"
    )
    if "max_abs_diff" in result:
        lat = ", ".join(f"{k} {v} ms" for k, v in result["latency_ms"].items())
        con.print(
            f"  parity: max abs diff {result['max_abs_diff']:.2e} (< {result['atol']:g}); latency: {lat}"
        )
    if "kit" in result:
        con.print("  kuavo_env.yaml inference: " + ", ".join(f"{k}={v}" for k, v in result["kit"].items()))
    if "mode" in result:
        how = (
            "the kit loads it itself" if result["mode"] == "in-process" else "`kuavo serve` inside the image"
        )
        con.print(f"  mode: {result['mode']} ({how})")
    if "archive" in result:
        con.print(f"  archive: {result['archive']} (image {result['image']}, tar {result['image_tar']})")
    if "hub" in result:
        con.print(f"  uploaded: {result['hub']['url']}")
    for note in result.get("notes", []):
        stderr_console().print(f"[yellow]Note:[/yellow] {note}")


def _check(package: Path, json_out: bool) -> None:
    from kuavo_cli.export.check import check_package

    err = stderr_console()
    with err.status(f"Checking {package}"):
        report = check_package(package)
    if json_out:
        print_json(report)
    else:
        con = stdout_console()
        marks = {"ok": "[green]ok[/green]  ", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}
        for item in report["checks"]:
            con.print(f"{marks[item['status']]} {item['name']}: {item['detail']}", highlight=False)
        sizes = ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in report["sizes_bytes"].items())
        con.print(f"sizes: {sizes or 'none'}")
        failed = sum(item["status"] == "fail" for item in report["checks"])
        verdict = "ready to upload" if report["ok"] else f"{failed} problem(s): fix them before uploading"
        con.print(f"{report['package']} ({report['mode'] or 'unknown'} mode): {verdict}")
    if not report["ok"]:
        raise typer.Exit(EXIT_RUNTIME)


def register(app: typer.Typer) -> None:
    app.command("export", epilog=EXAMPLE)(export)
