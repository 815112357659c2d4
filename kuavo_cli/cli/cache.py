"""`kuavo cache DATASET`: decode every camera frame once into a memory-mapped cache for fast training."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kuavo_cli.cli.options import JsonOpt

EXAMPLE = "Example: kuavo cache data/synthetic --out .cache/frames"


def cache(
    dataset: Annotated[Path, typer.Argument(help="Local LeRobot dataset folder (meta/info.json inside).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Cache folder (default $KUAVO_CACHE_DIR or ~/.cache/kuavo/frames)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if a valid cache exists.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Decode every camera frame once into a memory-mapped uint8 cache; train with `dataset.cache: true`."""
    from kuavo_cli.cli.output import print_json, stderr_console, stdout_console
    from kuavo_cli.data.frame_cache import cache_dataset

    result = cache_dataset(dataset, out, force=force, console=stderr_console())
    if json_out:
        print_json(result)
        return
    verb = "built" if result["built"] else "up to date"
    console = stdout_console()
    console.print(
        f"Frame cache {verb}: {result['cache']} ({result['frames']} frames, {result['bytes'] / 1e9:.2f} GB, "
        f"{result['seconds']:.1f} s)"
    )
    for stale in result["removed_stale"]:
        console.print(f"removed stale cache {stale}")
    cache_dir = result["config"]["dataset"]["cache_dir"]
    console.print(f"Train from it with: --set dataset.cache=true --set dataset.cache_dir={cache_dir}")


def register(app: typer.Typer) -> None:
    app.command("cache", epilog=EXAMPLE)(cache)
