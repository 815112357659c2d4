"""The doctor report: a table (✓ ! ✗) and, below it, the fix of every line that is not ok, unwrapped."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kuavo_cli.doctor.base import Check
from kuavo_cli.doctor.runner import summary

MARKS = {"ok": ("✓", "green"), "warning": ("!", "yellow"), "error": ("✗", "bold red")}


def print_report(checks: list[Check], console: Console) -> None:
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("result", overflow="fold")
    for c in checks:
        mark, style = MARKS[c.status]
        table.add_row(
            Text(mark, style=style), Text(c.name, style=style if c.status != "ok" else ""), c.detail
        )
    with console.capture() as captured:
        console.print(table)
    # rich pads every row to the table width; logs and copy-paste are nicer without trailing blanks
    console.file.write("\n".join(line.rstrip() for line in captured.get().splitlines()) + "\n")
    fixes = [c for c in checks if c.status != "ok" and c.fix]
    if fixes:
        console.print()
        console.print(Text("Fixes:", style="bold"))
        for c in fixes:
            mark, style = MARKS[c.status]
            # soft-wrapped, unhighlighted: a fix must stay one copy-pasteable line
            console.print(
                Text.assemble((f"{mark} {c.name}: ", style), c.fix or ""), soft_wrap=True, highlight=False
            )
    counts = summary(checks)
    console.print()
    console.print(
        f"{counts['ok']} ok, {counts['warning']} warning(s), {counts['error']} error(s)",
        highlight=False,
        style="bold red" if counts["error"] else None,
    )
