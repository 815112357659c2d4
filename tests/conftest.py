"""Shared fixtures: an offline environment and small synthetic Kuavo datasets built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("SVT_LOG", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED_EXAMPLES = REPO_ROOT / "templates" / "examples"

# A test that needs one of these fixtures takes minutes, not seconds: it is marked slow, so `make test-fast`
# (`pytest -m "not slow"`) leaves it out; `make test` and CI run it.
SLOW_FIXTURES = {
    "kit_python": "the kit's Python 3.10 + lerobot 0.4.2 env (built once, then a fresh interpreter per test)",
    "demo_example": "`kuavo demo`: records demos, trains 300 CPU steps, closed-loop eval, export",
    "act_runs": "tests/test_eval.py: lerobot-train for 150 steps",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 episodes x 40 frames at 64x48: big enough to train on, small enough to build in seconds."""
    from kuavo_cli.data.synthetic import SyntheticSpec, make_synthetic_dataset

    root = tmp_path_factory.mktemp("data") / "kuavo_synth"
    return make_synthetic_dataset(root, SyntheticSpec(num_episodes=6, episode_length=40, image_size=(48, 64)))


@pytest.fixture(scope="session")
def tiny_act_policy() -> dict:
    """A tiny ACT policy section that trains quickly on CPU and downloads nothing."""
    from tests.train_fixtures import TINY_ACT

    return dict(TINY_ACT)


@pytest.fixture(scope="session")
def kit_python() -> Path:
    """python of the competition kit's environment (Python 3.10, lerobot 0.4.2), created once and cached."""
    from tests.kit_env import ensure_kit_python

    return ensure_kit_python()


@pytest.fixture(scope="session")
def kuavo_act_run(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ACT trained by `kuavo train` (4 steps on CPU, checkpoints at 2 and 4), trained once and shared by
    the eval, export and serve docs examples, test_eval, test_checkpoint_integrity and test_kit_lerobot042.
    Copy it before changing it."""
    from tests.cli_helpers import run_cli
    from tests.train_fixtures import TINY_ACT, train_config, write_config

    base = tmp_path_factory.mktemp("kuavo_act")
    cfg = train_config(synthetic_dataset, base / "run", TINY_ACT, steps=4, eval_freq=2, save_freq=2)
    res = run_cli("train", str(write_config(base / "train.yaml", cfg)))
    assert res.exit_code == 0, res.stderr
    return base / "run"


@pytest.fixture(scope="session")
def demo_example(tmp_path_factory: pytest.TempPathFactory):
    """`kuavo demo`'s --help example, run once in a fresh folder: it records the stand-in expert demos,
    trains the stand-in ACT, scores it in closed loop and exports it. tests/test_docs.py checks the run;
    tests/test_sim_learning.py scores its untrained and trained policies, so the sim part of the suite
    records and trains that policy once instead of twice. Returns (Result, working folder)."""
    import contextlib

    from tests.cli_helpers import run_cli
    from tests.docs_examples import example_args, registered_commands

    cwd = tmp_path_factory.mktemp("demo_example")
    with contextlib.chdir(cwd), pytest.MonkeyPatch.context() as env:
        env.setenv("NO_COLOR", "1")
        result = run_cli(*example_args(registered_commands()["demo"]))
    return result, cwd


@pytest.fixture(scope="session")
def lerobot_act_run(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ACT trained for 2 steps by the real `lerobot-train` (serve and submission tests)."""
    from tests.lerobot_ckpt import train_with_lerobot

    return train_with_lerobot(synthetic_dataset, tmp_path_factory.mktemp("act2") / "run", steps=2)


@pytest.fixture(scope="session")
def lerobot_diffusion_run(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Diffusion policy (n_obs_steps 2, 4 actions per chunk) trained for 2 steps by `lerobot-train`."""
    from tests.lerobot_ckpt import TINY_DIFFUSION_ARGS, train_with_lerobot

    run = tmp_path_factory.mktemp("diffusion2") / "run"
    return train_with_lerobot(synthetic_dataset, run, steps=2, policy_args=TINY_DIFFUSION_ARGS)
