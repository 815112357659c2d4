"""`kuavo config-init` and `kuavo config show|validate` as a library.

`init_config` asks the wizard's questions (or takes flags/defaults), renders templates/train.yaml, validates
the result with the training models and writes it atomically; `resolved_config` / `check_config` read a
config file through the same path `kuavo train` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kuavo_cli.config.loader import dump_config, load_train_config, validate
from kuavo_cli.config.models import TrainConfig
from kuavo_cli.config.wizard import Answers, display, render, write_atomic
from kuavo_cli.config.wizard_questions import Prompter, collect_answers
from kuavo_cli.errors import UsageError

__all__ = ["InitResult", "check_config", "init_config", "resolved_config"]


@dataclass
class InitResult:
    path: Path
    answers: Answers
    defaults_used: dict[str, Any]

    def dataset_note(self) -> str | None:
        """What to know about the dataset answer: read as a hub repo id, or a folder that is not there yet."""
        repo_id, root = self.answers.dataset_fields()
        if root is None:
            return f"Dataset {repo_id}: read as a hub repo id (write ./{repo_id} for a local folder)."
        if not Path(root).expanduser().exists():
            return (
                f"Note: dataset folder {root} does not exist yet; create it with `kuavo download` and "
                "`kuavo convert` (docs/config-init.md)."
            )
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "effective_batch_size": self.answers.effective_batch_size,
            "command": self.answers.train_command(),
            "answers": self.answers.model_dump(mode="json"),
            "defaults_used": {k: display(v) for k, v in self.defaults_used.items()},
        }


def init_config(given: dict[str, Any], prompt: Prompter | None = None, force: bool = False) -> InitResult:
    """Ask (or take from `given`, None = not given, or the template's defaults), render, validate with the
    training models, write atomically; an existing file is only replaced with `force`."""
    if given.get("out") is not None and Path(given["out"]).exists() and not force:
        raise UsageError(
            f"{given['out']} already exists", "choose another --out or add --force to overwrite it"
        )
    answers, defaults_used = collect_answers(given, prompt)
    text = render(answers)
    validate(yaml.safe_load(text), source=str(answers.out))  # the file must pass `kuavo config validate`
    write_atomic(answers.out, text, force=force)
    return InitResult(answers.out, answers, defaults_used)


def resolved_config(file: Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """The fully resolved config (defaults, file and `--set` overrides merged; policy expanded by lerobot)."""
    return dump_config(load_train_config(file, overrides))


def check_config(file: Path, overrides: list[str] | None = None) -> TrainConfig:
    """The validated config, or ConfigError (exit 2) with one line per problem."""
    return load_train_config(file, overrides)
