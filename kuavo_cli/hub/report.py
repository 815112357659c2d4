"""Human-readable output of `kuavo download` (the JSON form is the dict itself)."""

from __future__ import annotations

from kuavo_cli.hub.sizes import human_bytes


def _groups_table(groups: list[dict], title: str):
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("folder / group")
    table.add_column("files", justify="right")
    table.add_column("bags", justify="right")
    table.add_column("size", justify="right")
    for g in groups:
        table.add_row(
            g["group"], str(g["files"]), str(g["bags"]) if g["bags"] else "-", human_bytes(g["bytes"])
        )
    return table


def render(out: dict, console) -> None:
    head = f"{out['repo_id']} ({out['repo_type']}) @ {out['revision']} = {out['commit'][:10]}  ·  {out['kind']} repo"
    console.print(head, highlight=False, markup=False)
    mode = out["mode"]
    if mode == "list":
        console.print(_groups_table(out["groups"], f"{out['files']} files, {human_bytes(out['bytes'])}"))
        console.print("Nothing was downloaded (--list).", highlight=False)
        return
    if out.get("lerobot"):
        eps = out["lerobot"]["episodes"]
        console.print(
            f"LeRobot {out['lerobot']['codebase_version']}: {len(eps)} of {out['lerobot']['total_episodes']} episodes",
            highlight=False,
        )
    title = f"selected {out['files']} files, {human_bytes(out['bytes'])}  ({out['filters']})"
    console.print(_groups_table(out["groups"], title))
    console.print(f"target: {out['target']}", highlight=False, markup=False)
    if mode == "dry-run":
        console.print(
            f"{out['files_present']} already present, {out['files_to_fetch']} to fetch "
            f"({human_bytes(out['bytes_to_fetch'])}); {human_bytes(out['free_bytes'])} free. "
            "Nothing was downloaded (--dry-run).",
            highlight=False,
            markup=False,
        )
        return
    console.print(
        f"Done: {out['files_fetched']} files fetched ({human_bytes(out['bytes_fetched'])}) in {out['seconds']:.1f}s, "
        f"{out['files_skipped']} already present, {out['verified']} verified against the hub's hashes.",
        highlight=False,
        markup=False,
    )
    console.print(f"Files are in {out['target']}", highlight=False, markup=False)
