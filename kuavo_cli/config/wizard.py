"""`kuavo config-init`: the questions, the answers model, and rendering `templates/train.yaml`.

The template is the single source of the defaults users see: a value marked `# [slot:NAME]` is both the
default the wizard offers and the place the answer is written; `#@policy NAME` ... `#@end` blocks are kept
only for the chosen policy. Flags, prompts and defaults all end in the same `Answers`, and `render(answers)`
is a pure function of them, so the interactive and the scripted path write byte-identical files.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from kuavo_cli.config.models import MixedPrecision
from kuavo_cli.data.schema import SIM_TASKS
from kuavo_cli.errors import UsageError
from kuavo_cli.utils import atomic

# The policies offered in the wizard's menu (all registered in lerobot 0.6.1); `--policy` accepts any type.
WIZARD_POLICIES = ("act", "diffusion", "pi05", "smolvla", "pi0", "vqbet")
TASK_KEYS = ("1", "2", "3", "real")
WANDB_MODES = ("auto", "online", "offline")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_SLOT = re.compile(
    r"^(?P<indent>\s*)(?P<key>[\w]+):\s*(?P<value>.*?)\s+#\s*\[slot:(?P<slot>\w+)\]\s?(?P<rest>.*)$"
)


def template_path() -> Path:
    """templates/train.yaml of the source tree (editable install) or shipped inside the package."""
    here = Path(__file__).resolve()
    for candidate in (
        here.parents[2] / "templates" / "train.yaml",
        here.parents[1] / "templates" / "train.yaml",
    ):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("templates/train.yaml is missing from this installation of kuavo")


def read_template() -> str:
    return template_path().read_text(encoding="utf-8")


def template_slots(text: str | None = None) -> dict[str, Any]:
    """Slot name -> the default value written in the template (parsed as YAML)."""
    slots = {}
    for line in (text or read_template()).splitlines():
        m = _SLOT.match(line)
        if m:
            slots[m["slot"]] = yaml.safe_load(m["value"]) if m["value"] else None
    return slots


# ---- answers ------------------------------------------------------------------------------------------


class Answers(BaseModel):
    """Everything the wizard asks; `render` turns it into the YAML file."""

    model_config = ConfigDict(extra="forbid")

    task: Literal["1", "2", "3", "real"]
    dataset: str = Field(min_length=1)
    policy: str
    gpus: int = Field(gt=0)
    batch_size: int = Field(gt=0)
    grad_accum: int = Field(gt=0)
    steps: int = Field(gt=0)
    mixed_precision: MixedPrecision
    wandb: bool
    wandb_mode: Literal["auto", "online", "offline"] = "auto"
    wandb_project: str = Field("kuavo", min_length=1)
    out: Path

    @property
    def task_name(self) -> str:
        return "real robot" if self.task == "real" else SIM_TASKS[int(self.task)]

    @property
    def effective_batch_size(self) -> int:
        return self.batch_size * self.gpus * self.grad_accum

    def dataset_fields(self) -> tuple[str, str | None]:
        """(repo_id, root): a hub repo id, or a local folder with a `local/<name>` id."""
        if is_local_dataset(self.dataset):
            name = Path(self.dataset.rstrip("/")).name or "dataset"
            return f"local/{name}", self.dataset
        return self.dataset, None

    def train_command(self) -> str:
        cmd = f"kuavo train {shlex.quote(str(self.out))}"
        return cmd + (f" --gpus {self.gpus}" if self.gpus > 1 else "")

    def slot_values(self) -> dict[str, Any]:
        repo_id, root = self.dataset_fields()
        return {
            "repo_id": repo_id,
            "root": root,
            "policy": self.policy,
            "steps": self.steps,
            "batch_size": self.batch_size,
            "grad_accum": self.grad_accum,
            "gpus": self.gpus,
            "mixed_precision": self.mixed_precision,
            "job_name": job_name(self.policy, self.task),
            "wandb": self.wandb,
            "wandb_project": self.wandb_project,
            "wandb_mode": None if not self.wandb or self.wandb_mode == "auto" else self.wandb_mode,
        }


def is_local_dataset(value: str) -> bool:
    """An existing folder, an explicit path (/, ./, ../, ~) or anything not shaped `owner/name` is local."""
    if Path(value).expanduser().exists() or value.startswith(("/", "./", "../", "~")):
        return True
    return _REPO_ID.match(value) is None


def job_name(policy: str, task: str) -> str:
    return f"{policy}_{'real' if task == 'real' else 'task' + task}"


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


# ---- questions ----------------------------------------------------------------------------------------


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


# ---- rendering and writing ----------------------------------------------------------------------------


def _scalar(value: Any) -> str:
    """A YAML scalar that reads back as `value` (quotes 'no', paths with ':' and the like)."""
    text = yaml.safe_dump(str(value) if isinstance(value, Path) else value, default_flow_style=True)
    return text.removesuffix("\n...\n").strip()


def display(value: Any) -> str:
    """How a value reads in YAML (false, not False), for messages."""
    return _scalar(value).strip("'")


def _header(answers: Answers) -> list[str]:
    kind = "" if answers.task == "real" else " (sim)"
    return [
        f"Generated by `kuavo config-init`: task {answers.task_name}{kind}, policy {answers.policy}.",
        f"Effective batch size: {answers.batch_size} per GPU x {answers.gpus} GPU(s) x {answers.grad_accum} "
        f"accumulation = {answers.effective_batch_size} samples per optimizer step.",
        f"Train with: {answers.train_command()}",
    ]


def render(answers: Answers, template: str | None = None) -> str:
    """The commented YAML for `answers`: slots filled, only the chosen policy's block kept."""
    values = answers.slot_values()
    out: list[str] = []
    block: str | None = None  # policy of the `#@policy` block we are in
    for line in (template or read_template()).splitlines():
        if line.startswith("#@policy "):
            block = line.split(None, 1)[1].strip()
            continue
        if line.startswith("#@end"):
            block = None
            continue
        if block is not None and block != answers.policy:
            continue
        if line.strip() == "# {{header}}":
            out.extend(f"# {h}" for h in _header(answers))
            continue
        m = _SLOT.match(line)
        if m:
            if m["slot"] not in values:
                raise KeyError(f"templates/train.yaml: unknown slot {m['slot']}")
            comment = f"  # {m['rest']}" if m["rest"] else ""
            line = f"{m['indent']}{m['key']}: {_scalar(values[m['slot']])}{comment}"
        out.append(line)
    return "\n".join(out).rstrip() + "\n"


def write_atomic(path: Path, text: str, force: bool = False) -> None:
    """Write via a temp file in the same folder; without `force` an existing file is never replaced."""
    if path.is_dir():
        raise UsageError(f"{path} is a folder", "give a file name with --out")
    if path.exists() and not force:
        raise UsageError(f"{path} already exists", "choose another --out or add --force to overwrite it")
    try:  # without force, refused even when `path` appears while this writes
        atomic.write_text(path, text, overwrite=force)
    except FileExistsError:
        raise UsageError(f"{path} already exists", "add --force to overwrite it") from None


@dataclass
class InitResult:
    path: Path
    answers: Answers
    defaults_used: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "effective_batch_size": self.answers.effective_batch_size,
            "command": self.answers.train_command(),
            "answers": self.answers.model_dump(mode="json"),
            "defaults_used": {k: display(v) for k, v in self.defaults_used.items()},
        }


def config_init(given: dict[str, Any], prompt: Prompter | None = None, force: bool = False) -> InitResult:
    """Ask (or take from flags/defaults), render, validate with the training models, write atomically."""
    from kuavo_cli.config.loader import validate

    if given.get("out") is not None and Path(given["out"]).exists() and not force:
        raise UsageError(
            f"{given['out']} already exists", "choose another --out or add --force to overwrite it"
        )
    answers, defaults_used = collect_answers(given, prompt)
    text = render(answers)
    validate(yaml.safe_load(text), source=str(answers.out))  # the file must pass `kuavo config validate`
    write_atomic(answers.out, text, force=force)
    return InitResult(answers.out, answers, defaults_used)
