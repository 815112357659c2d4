"""`kuavo sim check`: is this checkout of the official simulator usable for `kuavo eval --sim taskN`?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kuavo_cli.cli.options import JsonOpt
from kuavo_cli.cli.output import print_json, stderr_console, stdout_console
from kuavo_cli.errors import EXIT_USAGE

sim_app = typer.Typer(help="Check the official simulator scenes kuavo evaluates in.", no_args_is_help=True)

AssetsOpt = Annotated[
    Path | None,
    typer.Option(
        "--assets",
        help="Checkout of LejuRobotics/kuavo-ros-opensource (branch opensource/kuavo-data-challenge-icra); "
        "default $KUAVO_SIM_ASSETS.",
        show_default=False,
    ),
]
TaskOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--task", help="Check only this scene (task1, task2, task3); repeatable.", show_default=False
    ),
]

_MARK = {"ok": "[green]ok[/green]  ", "fail": "[red]FAIL[/red]", "skipped": "[yellow]skip[/yellow]"}


@sim_app.command(
    "check",
    epilog="Example: kuavo sim check --assets kuavo-ros-opensource  (the root of your checkout)",
)
def check(assets: AssetsOpt = None, task: TaskOpt = None, json_out: JsonOpt = False) -> None:
    """Validate the checkout: files, MuJoCo version, robot joints, cameras, actuators, each scene (exit 2 on
    a problem, with one fix per problem)."""
    from kuavo_cli.sim.api import check_simulator

    with stderr_console().status("checking the checkout") as status:
        report = check_simulator(assets, task, on_progress=lambda message: status.update(message))
    if json_out:
        print_json(report.model_dump())
    else:
        out = stdout_console()
        out.print(
            f"Official simulator checkout {report.assets} (MuJoCo {report.mujoco_version})", highlight=False
        )
        for item in report.items:
            out.print(f"  {_MARK[item.status]}  {item.check:<26} {item.detail}", highlight=False)
            if item.fix:
                out.print(f"        {'':<26} fix: {item.fix}", highlight=False)
        problems = report.problems()
        out.print(
            "[green]all checks passed[/green]" if report.ok else f"[red]{len(problems)} problem(s)[/red]",
            highlight=False,
        )
    if not report.ok:
        raise typer.Exit(EXIT_USAGE)
