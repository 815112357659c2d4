"""The questions of `kuavo config-init`: each parses its flag's value; `collect_answers` fills them from
flags, else the prompter, else the defaults of templates/train.yaml."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kuavo_cli.config.wizard import WANDB_MODES, WIZARD_POLICIES, Answers, job_name, template_slots
from kuavo_cli.data.schema import SIM_TASKS
from kuavo_cli.errors import UsageError


def normalize_task(value: Any) -> str:
    """1, 'task1', 'TASK1-ToySorting', 'toysorting' or 'real' -> '1' | '2' | '3' | 'real'."""
    text = str(value).strip().lower()
    for num, name in SIM_TASKS.items():
        if text in (str(num), f"task{num}", name.lower(), name.split("-", 1)[1].lower()):
            return str(num)
    if text == "real":
        return "real"
    choices = ", ".join([*(str(n) for n in SIM_TASKS), "real"])
    raise UsageError(f"--task {value!r} is not a challenge task", f"use one of {choices}")


def normalize_policy(value: Any) -> str:
    text = str(value).strip().lower()
    if text in WIZARD_POLICIES:
        return text
    from kuavo_cli.config.policy import known_policy_types, policy_config_class

    if text in known_policy_types():
        return text
    try:
        policy_config_class(text)
    except ValueError as err:
        raise UsageError(f"--policy: {err}") from None
    return text


def _positive_int(flag: str) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise UsageError(f"{flag} {value!r} is not a whole number") from None
        if number < 1:
            raise UsageError(f"{flag} must be at least 1 (got {number})")
        return number

    return parse


def _one_of(flag: str, allowed: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in allowed:
            raise UsageError(f"{flag} {value!r} is not allowed", f"use one of {', '.join(allowed)}")
        return text

    return parse


def _nonempty(flag: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not str(value).strip():
            raise UsageError(f"{flag} must not be empty")
        return str(value).strip()

    return parse


@dataclass(frozen=True)
class Question:
    key: str  # Answers field
    flag: str  # the CLI flag that answers it
    prompt: str
    kind: Literal["select", "text", "int", "confirm"]
    parse: Callable[[Any], Any]
    choices: Callable[[dict[str, Any]], list[tuple[Any, str]]] | None = None  # (value, label)
    applies: Callable[[dict[str, Any]], bool] = field(default=lambda answers: True)


def _task_choices(_: dict[str, Any]) -> list[tuple[Any, str]]:
    sims = [(str(n), f"{n}  {name} (sim)") for n, name in SIM_TASKS.items()]
    return [*sims, ("real", "real  real-robot data")]


QUESTIONS: list[Question] = [
    Question("task", "--task", "Task", "select", normalize_task, _task_choices),
    Question(
        "dataset",
        "--dataset",
        "Dataset (local LeRobot folder or hub repo id)",
        "text",
        _nonempty("--dataset"),
    ),
    Question(
        "policy",
        "--policy",
        "Policy",
        "select",
        normalize_policy,
        lambda _: [(p, p) for p in WIZARD_POLICIES],
    ),
    Question("gpus", "--gpus", "Number of GPUs", "int", _positive_int("--gpus")),
    Question("batch_size", "--batch-size", "Batch size per GPU", "int", _positive_int("--batch-size")),
    Question(
        "grad_accum", "--grad-accum", "Gradient accumulation steps", "int", _positive_int("--grad-accum")
    ),
    Question("steps", "--steps", "Training steps (optimizer steps)", "int", _positive_int("--steps")),
    Question(
        "mixed_precision",
        "--mixed-precision",
        "Mixed precision",
        "select",
        _one_of("--mixed-precision", ("no", "fp16", "bf16")),
        lambda _: [("no", "no  (fp32)"), ("bf16", "bf16  (Ampere or newer GPUs)"), ("fp16", "fp16")],
    ),
    Question("wandb", "--wandb/--no-wandb", "Log to Weights & Biases?", "confirm", bool),
    Question(
        "wandb_mode",
        "--wandb-mode",
        "wandb mode",
        "select",
        _one_of("--wandb-mode", WANDB_MODES),
        lambda _: [
            ("auto", "auto  (online with an API key, else offline)"),
            ("online", "online"),
            ("offline", "offline"),
        ],
        applies=lambda a: bool(a.get("wandb")),
    ),
    Question(
        "wandb_project",
        "--wandb-project",
        "wandb project",
        "text",
        _nonempty("--wandb-project"),
        applies=lambda a: bool(a.get("wandb")),
    ),
    Question("out", "--out", "Write the config to", "text", lambda v: Path(_nonempty("--out")(v))),
]


def default_answer(key: str, answers: dict[str, Any], slots: dict[str, Any]) -> Any:
    """The default offered for `key`, from the template's slot values and the answers given so far."""
    if key == "task":
        return "1"
    if key == "dataset":
        task = answers.get("task", "1")
        return f"data/lerobot/{'real' if task == 'real' else SIM_TASKS[int(task)]}"
    if key == "out":
        return Path("configs") / f"{job_name(answers['policy'], answers['task'])}.yaml"
    if key == "wandb_mode":
        return slots["wandb_mode"] or "auto"
    return slots[key]


Prompter = Callable[[Question, Any, dict[str, Any]], Any]


def collect_answers(given: dict[str, Any], prompt: Prompter | None = None) -> tuple[Answers, dict[str, Any]]:
    """Fill every question from `given` (flags; None = not given), else `prompt`, else its default.

    Returns the answers and the defaults used without asking (so the caller can say so).
    """
    slots = template_slots()
    answers: dict[str, Any] = {}
    defaults_used: dict[str, Any] = {}
    for q in QUESTIONS:
        if not q.applies(answers):
            continue
        default = default_answer(q.key, answers, slots)
        if given.get(q.key) is not None:
            answers[q.key] = q.parse(given[q.key])
        elif prompt is not None:
            answers[q.key] = q.parse(prompt(q, default, answers))
        else:
            answers[q.key] = default
            defaults_used[q.key] = default
    return Answers(**answers), defaults_used
