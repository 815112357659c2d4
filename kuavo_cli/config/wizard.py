"""`kuavo config-init`: the answers model and rendering `templates/train.yaml` (questions: `wizard_questions`,
entry point: `config.api.init_config`).

The template is the single source of the defaults users see: a value marked `# [slot:NAME]` is both the
default the wizard offers and the place the answer is written; `#@policy NAME` ... `#@end` blocks are kept
only for the chosen policy. Flags, prompts and defaults all end in the same `Answers`, and `render(answers)`
is a pure function of them, so the interactive and the scripted path write byte-identical files.
"""

from __future__ import annotations

import re
import shlex
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
