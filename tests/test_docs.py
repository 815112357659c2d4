"""The docs stay true: docs/config.md matches the models, every command's `--help` example runs for real,
and the pages linked from docs/index.md exist and name only real commands. (Colour and shell completion:
tests/test_docs_terminal.py.)"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from pydantic import Field

from tests.cli_helpers import run_cli
from tests.docs_examples import (
    SCENARIOS,
    SHARED_EXAMPLE_RUNS,
    SLOW_EXAMPLES,
    bag_bytes,
    example_args,
    prep_help_only,
    registered_commands,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"
ROOT_OPTIONS = {"--help", "--version", "--debug", "--install-completion", "--show-completion"}


# ---- 1. the configuration reference ------------------------------------------------------------------------
def test_config_reference_is_up_to_date():
    from kuavo_cli.docs_gen import generate

    assert (DOCS / "config.md").read_text(encoding="utf-8") == generate(), (
        "docs/config.md is out of date with kuavo_cli/config: run `make docs`"
    )


def test_reference_covers_every_field_and_notices_a_new_one(monkeypatch):
    from kuavo_cli import docs_gen
    from kuavo_cli.config import models

    text = docs_gen.generate()
    for prefix, model in [("", models.TrainConfig), ("dataset.", models.DatasetSection),
                          ("optimizer.", models.OptimizerSection), ("scheduler.", models.SchedulerSection),
                          ("wandb.", models.WandbSection)]:  # fmt: skip
        for name, info in model.model_fields.items():
            assert f"| `{prefix}{name}`" in text and docs_gen.cell(info.description or "") in text, name

    class WithNewField(models.TrainConfig):
        warmup_note: int = Field(3, ge=1, description="A field added without regenerating the docs.")

    monkeypatch.setattr(models, "TrainConfig", WithNewField)
    changed = docs_gen.generate()
    assert changed != (DOCS / "config.md").read_text(encoding="utf-8")
    assert "| `warmup_note` | `int` | `3` | >= 1 | A field added without regenerating the docs. |" in changed


def test_docs_gen_check_mode(tmp_path, capsys):
    from kuavo_cli.docs_gen import main

    page = tmp_path / "docs" / "config.md"
    assert main(["--check", str(page)]) == 1  # missing counts as out of date
    assert main([str(page)]) == 0 and page.exists()
    assert main([str(page), "--check"]) == 0
    page.write_text(page.read_text().replace("Learning rate.", "Learning rate (stale)."))
    assert main([str(page), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err


# ---- 2. every command's --help example runs -----------------------------------------------------------------
@pytest.fixture(scope="module")
def loopback_hub():
    """The challenge repo's layout (tiny fake bags) on tests/hub_server.py's loopback hub."""
    from tests.hub_server import HubServer

    files = {"README.md": b"# test copy\n"}
    for t, folder in [(1, "sim/TASK1-ToySorting"), (2, "sim/TASK2-ParcelWeighing")]:
        for i in range(12):
            files[f"{folder}/task{t}_{i:04d}.bag"] = bag_bytes(100 * t + i)
    server = HubServer()
    server.add_repo("LejuRobotics/kuavo_data_challenge_icra", files)
    with server:
        yield server


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(c, marks=pytest.mark.slow) if c in SLOW_EXAMPLES else c
        for c in sorted(registered_commands())
    ],
)
def test_help_example_runs(command, tmp_path, monkeypatch, request):
    epilog = registered_commands()[command]
    assert epilog and f"Example: kuavo {command}" in epilog, f"`kuavo {command} --help` has no example"
    args = example_args(epilog)
    help_only = args[len(command.split()) :] == ["--help"]
    prepare = prep_help_only if help_only else SCENARIOS.get(command)
    assert prepare is not None, f"add a scenario for `kuavo {command}`'s example to tests/docs_examples.py"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    check = prepare(tmp_path, request, monkeypatch)
    if command in SHARED_EXAMPLE_RUNS:  # a session fixture ran this example once; other tests use its output
        result, cwd = request.getfixturevalue(SHARED_EXAMPLE_RUNS[command])
        check(result, cwd)
    else:
        check(run_cli(*args), tmp_path)


def test_help_shows_the_example():
    for command, epilog in registered_commands().items():
        result = run_cli(*command.split(), "--help")
        assert result.exit_code == 0 and "Example: kuavo" in result.stdout, command
        assert epilog and " ".join(example_args(epilog))[:30] in " ".join(result.stdout.split()), command


# ---- 3. the pages and the command lines in them -------------------------------------------------------------
def _links(page: Path) -> list[str]:
    return re.findall(r"\]\(([^)#\s:]+\.md)(?:#[^)]*)?\)", page.read_text(encoding="utf-8"))


def test_index_links_every_page_and_each_exists():
    linked = {(DOCS / link).resolve() for link in _links(DOCS / "index.md")}
    missing = sorted(str(p.relative_to(REPO_ROOT)) for p in linked if not p.exists())
    assert not missing, f"docs/index.md links pages that do not exist: {missing}"
    unlinked = sorted(p.name for p in DOCS.glob("*.md") if p.name != "index.md" and p.resolve() not in linked)
    assert not unlinked, f"pages not linked from docs/index.md: {unlinked}"


def test_readme_starts_with_the_two_commands_and_links_resolve():
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    first_block = text.split("```")[1].splitlines()[1:]
    assert [ln.split("#")[0].strip() for ln in first_block] == ["make demo", "make test"]
    assert "\n## " not in text.split("```")[0]  # nothing but the title and a sentence before them
    for link in _links(REPO_ROOT / "README.md"):
        assert (REPO_ROOT / link).exists(), link


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_anchors_point_at_headings():
    pages = sorted(DOCS.glob("*.md")) + [REPO_ROOT / "README.md"]
    problems = []
    for page in pages:
        for target, anchor in re.findall(r"\]\(([^)#\s:]*)#([^)\s]+)\)", page.read_text(encoding="utf-8")):
            dest = (page.parent / target) if target else page
            if not dest.exists():
                continue  # reported by the link tests
            headings = re.findall(r"^#+ (.+)$", dest.read_text(encoding="utf-8"), flags=re.M)
            if anchor not in {_slug(h) for h in headings}:
                problems.append(f"{page.name}: #{anchor} is not a heading of {dest.name}")
    assert not problems, problems


def fenced_lines(text: str) -> list[tuple[int, str]]:
    out, inside = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            inside = not inside
        elif inside:
            out.append((number, line))
    return out


def kuavo_invocations(line: str) -> list[list[str]]:
    """The argument lists of every `kuavo ...` / `python -m kuavo_cli ...` on a shell line."""
    found = []
    for part in re.split(r"&&|\|\||;|\|", line):
        try:
            tokens = shlex.split(part.strip().removeprefix("$ "), comments=True)
        except ValueError:
            tokens = part.split()
        while tokens and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", tokens[0]):
            tokens.pop(0)  # VAR=value prefixes
        if tokens and Path(tokens[0]).name == "kuavo":
            found.append(tokens[1:])
        elif "kuavo_cli" in tokens and tokens[tokens.index("kuavo_cli") - 1] == "-m":
            found.append(tokens[tokens.index("kuavo_cli") + 1 :])
    return found


def command_problem(args: list[str], commands: dict[str, str | None]) -> str | None:
    while args and args[0] in ROOT_OPTIONS - {"--help", "--version"}:
        args = args[1:]
    if not args or args[0] in ROOT_OPTIONS:
        return None
    groups = {name.split()[0] for name in commands if " " in name}
    if args[0] in groups:
        if len(args) < 2 or args[1] == "--help" or f"{args[0]} {args[1]}" in commands:
            return None
        return f"`kuavo {args[0]} {args[1]}` is not a command"
    return None if args[0] in commands else f"`kuavo {args[0]}` is not a command"


def test_command_lines_in_docs_name_real_commands():
    commands = registered_commands()
    problems, seen = [], 0
    for page in sorted(DOCS.glob("*.md")) + [REPO_ROOT / "README.md"]:
        for number, line in fenced_lines(page.read_text(encoding="utf-8")):
            for args in kuavo_invocations(line):
                seen += 1
                problem = command_problem(args, commands)
                if problem:
                    problems.append(f"{page.relative_to(REPO_ROOT)}:{number}: {problem}")
    assert seen > 20 and not problems, problems


def test_command_line_checker_catches_mistakes():
    commands = registered_commands()
    assert kuavo_invocations("$ HF_HUB_OFFLINE=1 .venv/bin/kuavo trian x && kuavo config shwo f  # c") == [
        ["trian", "x"],
        ["config", "shwo", "f"],
    ]
    assert command_problem(["trian", "x"], commands) and command_problem(["config", "shwo", "f"], commands)
    assert kuavo_invocations("accelerate launch -m kuavo_cli train c.yaml") == [["train", "c.yaml"]]
    assert command_problem(["--debug", "train", "c.yaml"], commands) is None
