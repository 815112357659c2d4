"""`kuavo config-init`: template coverage and defaults, flags vs a real pseudo-terminal, no-TTY, --force."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kuavo_cli.config import load_train_config
from kuavo_cli.config.models import (
    DatasetSection,
    OptimizerSection,
    SchedulerSection,
    TrainConfig,
    WandbSection,
)
from kuavo_cli.config.wizard import WIZARD_POLICIES, Answers, is_local_dataset, read_template, render
from tests.cli_helpers import run_cli

PYTHON = str(Path(sys.executable))
# Fields a rendered file sets from the answers; everything else must equal the model defaults.
ANSWERED = {
    "dataset",
    "policy",
    "steps",
    "batch_size",
    "gradient_accumulation_steps",
    "gpus",
    "mixed_precision",
}
ANSWERED |= {"job_name", "wandb"}


def _answers(**kw) -> Answers:
    base = dict(
        task="1", dataset="data/lerobot/x", policy="act", gpus=1, batch_size=8, grad_accum=1, steps=100, wandb=False,
        mixed_precision="no", out=Path("cfg.yaml"),
    )  # fmt: skip
    return Answers(**{**base, **kw})


def _write(tmp_path: Path, text: str, name: str = "cfg.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_template_mentions_every_field_of_every_section():
    text = read_template()
    keys = set(re.findall(r"^[#\s]*(\w+):", text, flags=re.M))
    for model in (TrainConfig, DatasetSection, OptimizerSection, SchedulerSection, WandbSection):
        missing = set(model.model_fields) - keys
        assert not missing, f"templates/train.yaml lacks {model.__name__} fields {sorted(missing)}"


@pytest.mark.parametrize("policy", WIZARD_POLICIES)
def test_rendered_template_validates_and_keeps_model_defaults(tmp_path, policy):
    answers = _answers(policy=policy, gpus=4, batch_size=2, grad_accum=3, steps=1234, mixed_precision="bf16")
    cfg = load_train_config(_write(tmp_path, render(answers)))
    assert (cfg.policy.type, cfg.gpus, cfg.batch_size) == (policy, 4, 2)
    assert (cfg.gradient_accumulation_steps, cfg.steps, cfg.mixed_precision) == (3, 1234, "bf16")
    assert cfg.dataset.root == Path("data/lerobot/x") and cfg.job_name == f"{policy}_task1"
    defaults = TrainConfig(dataset={}).model_dump()
    got = cfg.model_dump()
    for name, default in defaults.items():
        if name not in ANSWERED:
            assert got[name] == default, f"template value of {name} differs from the model default"
    # the sections the template only partly answers keep their other defaults too
    for name, default in DatasetSection().model_dump().items():
        if name not in ("repo_id", "root"):
            assert got["dataset"][name] == default, f"dataset.{name}"
    assert {k: v for k, v in got["wandb"].items() if k not in ("enable", "project", "mode")} == {
        k: v for k, v in WandbSection().model_dump().items() if k not in ("enable", "project", "mode")
    }


def _commented_block(text: str, head: str) -> dict:
    lines = text.splitlines()
    start = lines.index(f"# {head}:")
    body = [head + ":"]
    for line in lines[start + 1 :]:
        if not line.startswith("#   "):
            break
        body.append(line[2:])
    return yaml.safe_load("\n".join(body))[head]


def test_commented_optimizer_and_scheduler_show_the_defaults(tmp_path):
    text = render(_answers())
    opt, sched = _commented_block(text, "optimizer"), _commented_block(text, "scheduler")
    assert OptimizerSection.model_validate(opt) == OptimizerSection()
    assert SchedulerSection.model_validate(sched) == SchedulerSection()
    # and uncommented they load into a full config
    data = yaml.safe_load(text) | {"optimizer": opt, "scheduler": sched}
    cfg = load_train_config(base=data)
    assert cfg.optimizer == OptimizerSection() and not cfg.uses_policy_preset()


@pytest.mark.parametrize("policy", WIZARD_POLICIES)
def test_policy_suggestions_are_real_lerobot_fields_with_their_defaults(tmp_path, policy):
    from kuavo_cli.config.policy import PolicySection

    text = render(_answers(policy=policy))
    section = text.split("\npolicy:\n", 1)[1].split("\n\n", 1)[0]
    suggested = dict(re.findall(r"^  # (\w+): (.+?)(?:  #.*)?$", section, flags=re.M))
    assert suggested, f"no suggestions for {policy}"
    values = {k: yaml.safe_load(v) for k, v in suggested.items()}
    active = yaml.safe_load(text)["policy"]
    merged = PolicySection.model_validate({**active, **values})  # every suggestion is a lerobot field
    lerobot_defaults = PolicySection(type=policy).to_lerobot()
    for key, value in values.items():
        if key != "pretrained_path":  # that one points at weights the user downloads
            default = getattr(lerobot_defaults, key)
            assert value == (list(default) if isinstance(default, tuple) else default), f"{policy}.{key}"
    assert merged.type == policy


def test_dataset_path_or_repo_id(tmp_path):
    assert not is_local_dataset("LejuRobotics/kuavo_data_challenge_icra")
    for local in ("data/lerobot/TASK1", "./x/y", "/abs/path", "~/data", "plainname"):
        assert is_local_dataset(local), local
    existing = tmp_path / "own"
    existing.mkdir()
    assert is_local_dataset(str(existing))
    assert _answers(dataset="me/set").dataset_fields() == ("me/set", None)
    assert _answers(dataset="data/lerobot/T1").dataset_fields() == ("local/T1", "data/lerobot/T1")


FLAGS = [
    "--task", "2", "--dataset", "./data/mine", "--policy", "diffusion", "--gpus", "2", "--batch-size", "4",
    "--grad-accum", "3", "--steps", "500", "--mixed-precision", "bf16", "--wandb", "--wandb-mode", "offline",
    "--wandb-project", "myproj", "--out", "configs/run.yaml",
]  # fmt: skip


def test_flags_write_a_valid_config_and_print_the_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("config-init", *FLAGS, "--yes")
    assert result.exit_code == 0, result.stderr
    assert "Effective batch size: 4 per GPU x 2 GPU(s) x 3 accumulation = 24" in result.stdout
    assert "Train with: kuavo train configs/run.yaml --gpus 2" in result.stdout
    assert "Using defaults" not in result.stderr  # every question was answered by a flag
    assert run_cli("config", "validate", "configs/run.yaml").exit_code == 0
    cfg = load_train_config(Path("configs/run.yaml"))
    assert cfg.effective_batch_size() == 24 and cfg.policy.type == "diffusion"
    assert (cfg.wandb.enable, cfg.wandb.mode, cfg.wandb.project) == (True, "offline", "myproj")
    assert not list(Path("configs").glob(".*tmp"))  # no temp file left behind

    one = run_cli("config-init", "--gpus", "1", "--out", "one.yaml", "--yes", "--json")
    assert one.exit_code == 0, one.stderr
    assert '"command": "kuavo train one.yaml"' in one.stdout


def test_no_tty_never_blocks_and_names_the_defaults(tmp_path):
    proc = subprocess.run(
        [PYTHON, "-m", "kuavo_cli", "config-init", "--policy", "act"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "no terminal on stdin" in proc.stderr
    assert "task=1" in proc.stderr and "steps=100000" in proc.stderr and "policy=" not in proc.stderr
    cfg = load_train_config(tmp_path / "configs" / "act_task1.yaml")
    assert cfg.steps == TrainConfig(dataset={}).steps


def test_never_overwrites_without_force(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("keep.yaml").write_text("mine: 1\n")
    result = run_cli("config-init", "--out", "keep.yaml", "--yes")
    assert result.exit_code == 2 and "--force" in result.stderr and "Traceback" not in result.stderr
    assert Path("keep.yaml").read_text() == "mine: 1\n"
    forced = run_cli("config-init", "--out", "keep.yaml", "--steps", "7", "--yes", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert load_train_config(Path("keep.yaml")).steps == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.yaml"]


@pytest.mark.parametrize(
    ("flags", "expect"),
    [
        (["--gpus", "0"], "--gpus must be at least 1"),
        (["--policy", "actt"], "did you mean 'act'"),
        (["--task", "5"], "--task '5'"),
        (["--mixed-precision", "fp8"], "--mixed-precision"),
    ],
)
def test_bad_answers_are_one_line_usage_errors(tmp_path, monkeypatch, flags, expect):
    monkeypatch.chdir(tmp_path)
    result = run_cli("config-init", *flags, "--yes")
    assert result.exit_code == 2 and expect in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not list(tmp_path.rglob("*.yaml"))


# ---- the real terminal ---------------------------------------------------------------------------------

DOWN, ENTER, CLEAR = "\x1b[B", "\r", "\x15"  # arrow down, Enter, Ctrl-U (clear the pre-filled default)


def _spawn(cwd: Path, *args: str):
    pexpect = pytest.importorskip("pexpect")
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm", "NO_COLOR": "1"}
    return pexpect.spawn(
        PYTHON, ["-m", "kuavo_cli", "config-init", *args], cwd=str(cwd), env=env, encoding="utf-8",
        timeout=60, dimensions=(40, 120),
    )  # fmt: skip


def test_interactive_wizard_in_a_pty_writes_the_same_yaml_as_flags(tmp_path, monkeypatch):
    pexpect = pytest.importorskip("pexpect")
    tty_dir, flag_dir = tmp_path / "tty", tmp_path / "flags"
    tty_dir.mkdir()
    flag_dir.mkdir()
    child = _spawn(tty_dir)
    steps = [
        ("Task", DOWN + ENTER),  # 1 -> 2
        ("Dataset", CLEAR + "./data/mine" + ENTER),
        ("Policy", DOWN + ENTER),  # act -> diffusion
        ("Number of GPUs", CLEAR + "2" + ENTER),
        ("Batch size per GPU", CLEAR + "4" + ENTER),
        ("Gradient accumulation", CLEAR + "3" + ENTER),
        ("Training steps", CLEAR + "500" + ENTER),
        ("Mixed precision", DOWN + ENTER),  # no -> bf16
        ("Weights & Biases", "y"),
        ("wandb mode", DOWN + DOWN + ENTER),  # auto -> offline
        ("wandb project", CLEAR + "myproj" + ENTER),
        ("Write the config to", CLEAR + "configs/run.yaml" + ENTER),
    ]
    for prompt, keys in steps:
        child.expect_exact(prompt)
        child.send(keys)
    child.expect(pexpect.EOF, timeout=120)
    output = child.before
    child.close()
    assert child.exitstatus == 0, output
    assert "Train with: kuavo train configs/run.yaml --gpus 2" in output

    monkeypatch.chdir(flag_dir)
    result = run_cli("config-init", *FLAGS, "--yes")
    assert result.exit_code == 0, result.stderr
    tty_yaml = (tty_dir / "configs" / "run.yaml").read_text()
    assert tty_yaml == (flag_dir / "configs" / "run.yaml").read_text()
    assert load_train_config(tty_dir / "configs" / "run.yaml").effective_batch_size() == 24


def test_interactive_ctrl_c_writes_nothing(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    child = _spawn(tmp_path, "--out", "x.yaml")
    child.expect_exact("Task")
    child.sendcontrol("c")
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    assert child.exitstatus == 130 and not (tmp_path / "x.yaml").exists()


def test_help_example_runs(tmp_path, monkeypatch):
    import shlex

    from kuavo_cli.cli.config_init import EXAMPLE

    monkeypatch.chdir(tmp_path)
    result = run_cli(*shlex.split(EXAMPLE.removeprefix("Example: kuavo ")))
    assert result.exit_code == 0, result.stderr
    assert "= 128" in result.stdout and run_cli("config", "validate", "configs/act_task1.yaml").exit_code == 0
