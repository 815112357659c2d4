"""The `kuavo` Typer app: registers the commands and turns known errors into one line on stderr."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated

import typer

from kuavo_cli import __version__
from kuavo_cli.cli import (
    bench,
    cache,
    config_cmd,
    config_init,
    convert,
    dataset_cmd,
    demo,
    doctor,
    download,
    eval_cmd,
    export,
    inspect_cmd,
    serve,
    sim,
    train,
)
from kuavo_cli.errors import EXIT_RUNTIME, KuavoError

app = typer.Typer(
    name="kuavo",
    help="Leju Kuavo data challenge workflow: download, inspect, configure, train, eval, export.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"kuavo {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks on errors (also KUAVO_DEBUG=1).")
    ] = False,
) -> None:
    """Leju Kuavo data challenge workflow over LeRobot."""


download.register(app)
inspect_cmd.register(app)
convert.register(app)
config_init.register(app)
app.add_typer(config_cmd.config_app, name="config")
app.add_typer(dataset_cmd.dataset_app, name="dataset")
demo.register(app)
train.register(app)
eval_cmd.register(app)
export.register(app)
doctor.register(app)
bench.register(app)
cache.register(app)
app.add_typer(sim.sim_app, name="sim")
serve.register(app)


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("KUAVO_DEBUG", "") not in ("", "0")


def main(argv: list[str] | None = None) -> None:
    """Console entry point. `--debug` may stand anywhere on the line; it is forwarded via KUAVO_DEBUG."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = _debug_requested(args)
    if "--debug" in args:
        args = [a for a in args if a != "--debug"]
        os.environ["KUAVO_DEBUG"] = "1"
    try:
        app(args=args, prog_name="kuavo")
    except KuavoError as err:
        if debug:
            traceback.print_exc()
        print(f"Error: {err.one_line()}", file=sys.stderr)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        sys.exit(130)
    except Exception as err:  # an error we did not anticipate: one line, traceback only on request
        if debug:
            traceback.print_exc()
        print(
            f"Error: unexpected {type(err).__name__}: {err} (run again with --debug for the traceback)",
            file=sys.stderr,
        )
        sys.exit(EXIT_RUNTIME)
