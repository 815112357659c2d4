"""The interactive side of `kuavo config-init`: each wizard question asked with questionary (arrow keys)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kuavo_cli.config.wizard_questions import Prompter, Question
from kuavo_cli.errors import UsageError


def questionary_prompter(force: bool = False) -> Prompter:
    """Ask on the terminal with questionary; prompts go to stderr so stdout keeps only the result."""
    import questionary
    from prompt_toolkit.output import create_output

    output = create_output(stdout=sys.stderr)

    def check(q: Question) -> Callable[[str], bool | str]:
        def validate(text: str) -> bool | str:
            try:
                value = q.parse(text)
            except UsageError as err:
                return err.message.replace(f"{q.flag} ", "", 1)
            if q.key == "out" and Path(value).exists() and not force:
                return f"{value} already exists: choose another name (or rerun with --force)"
            return True

        return validate

    def ask(q: Question, default: Any, answers: dict[str, Any]) -> Any:
        if q.kind == "select":
            assert q.choices is not None
            choices = [questionary.Choice(title=label, value=value) for value, label in q.choices(answers)]
            question = questionary.select(
                q.prompt, choices=choices, default=default, instruction="(arrow keys, Enter)", output=output
            )
        elif q.kind == "confirm":
            question = questionary.confirm(q.prompt, default=bool(default), output=output)
        else:
            question = questionary.text(
                q.prompt, default=str(default), validate=check(q), validate_while_typing=False, output=output
            )
        return question.unsafe_ask()  # Ctrl-C raises KeyboardInterrupt: `kuavo` prints "Interrupted."

    return ask
