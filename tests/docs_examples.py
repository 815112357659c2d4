"""The `--help` examples of every command, and how to prepare a folder where each one can run for real.

tests/test_docs.py runs each example in a fresh temporary folder (the working directory) after the matching
`prep_*` function has put there what the example names (a dataset, a config, a run, bags, a hub); the returned
check then looks at what the command wrote. Only the example's paths are prepared: its flags run unchanged.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

from tests.cli_helpers import Result
from tests.train_fixtures import TINY_ACT, train_config, write_config

REPO_ROOT = Path(__file__).resolve().parents[1]


def registered_commands() -> dict[str, str | None]:
    """'download' -> its epilog, 'config show' -> ..., for every command the app registers."""
    from kuavo_cli.cli.app import app

    found: dict[str, str | None] = {}
    for info in app.registered_commands:
        assert info.callback is not None
        found[info.name or info.callback.__name__.replace("_", "-")] = info.epilog
    for group in app.registered_groups:
        for info in group.typer_instance.registered_commands:
            found[f"{group.name} {info.name}"] = info.epilog
    return found


def example_args(epilog: str) -> list[str]:
    """The arguments of the `Example: kuavo ...` line, without a trailing `  (remark)`."""
    line = next(ln.strip() for ln in epilog.splitlines() if ln.strip().startswith("Example: kuavo "))
    return shlex.split(re.split(r"\s{2,}\(", line.removeprefix("Example: kuavo "))[0])


def bag_bytes(seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, 300, dtype=np.uint8).tobytes()


Check = Callable[[Result, Path], None]


def _ok(result: Result) -> None:
    assert result.exit_code == 0, result.stdout[-2000:] + result.stderr[-2000:]


def _copy_run(run: Path, dest: Path) -> None:
    shutil.copytree(run, dest, symlinks=True)  # keeps checkpoints/last and best as links


def prep_download(tmp: Path, request, monkeypatch) -> Check:
    # Runs the real download (not only --dry-run) against the loopback hub with the real client.
    import huggingface_hub.constants as hf_constants

    hub = request.getfixturevalue("loopback_hub")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    for key in ("HF_HUB_CACHE", "HF_LEROBOT_HOME", "HF_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    env = {
        "HF_ENDPOINT": hub.url,
        "HF_HUB_OFFLINE": "0",
        "HF_HOME": str(tmp / "hf"),
        "HF_HUB_DISABLE_XET": "1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        got = sorted(p.relative_to(cwd / "data/raw").as_posix() for p in (cwd / "data/raw").rglob("*.bag"))
        assert got == [f"sim/TASK1-ToySorting/task1_{i:04d}.bag" for i in range(10)]

    return check


def prep_inspect(tmp: Path, request, monkeypatch) -> Check:
    shutil.copytree(request.getfixturevalue("synthetic_dataset"), tmp / "data/kuavo_synth")

    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        assert list((cwd / "plots").glob("*.png"))

    return check


def prep_convert(tmp: Path, request, monkeypatch) -> Check:
    from tests.rosbag_fixtures import BagSpec, write_bag

    write_bag(tmp / "data/raw/task1/kuavo_0000.bag", BagSpec(seconds=2.0))

    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        info = json.loads((cwd / "data/task1_lerobot/meta/info.json").read_text())
        assert info["total_episodes"] == 1 and info["total_frames"] > 0

    return check


def prep_config_init(tmp: Path, request, monkeypatch) -> Check:
    def check(result: Result, cwd: Path) -> None:
        from kuavo_cli.config import load_train_config

        _ok(result)
        cfg = load_train_config(cwd / "configs/act_task1.yaml")
        assert (cfg.gpus, cfg.effective_batch_size(), cfg.mixed_precision) == (4, 128, "bf16")

    return check


def prep_templates(tmp: Path, request, monkeypatch) -> Check:
    shutil.copytree(REPO_ROOT / "templates", tmp / "templates")
    return lambda result, cwd: _ok(result)


def prep_config_show(tmp: Path, request, monkeypatch) -> Check:
    prep_templates(tmp, request, monkeypatch)

    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        shown = yaml.safe_load(result.stdout)
        # --set applied, and the policy expanded by lerobot
        assert shown["steps"] == 100 and shown["policy"]["chunk_size"] == 100

    return check


def prep_config_validate(tmp: Path, request, monkeypatch) -> Check:
    prep_templates(tmp, request, monkeypatch)

    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        assert "OK templates/examples/config_multi_gpu.yaml: policy act" in result.stderr

    return check


def prep_demo_data(tmp: Path, request, monkeypatch) -> Check:
    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        assert json.loads((cwd / "data/synthetic/meta/info.json").read_text())["total_episodes"] == 8

    return check


def prep_demo(tmp: Path, request, monkeypatch) -> Check:
    # Nothing to prepare: the example runs in the `demo_example` fixture's own folder (SHARED_EXAMPLE_RUNS).
    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        demo = cwd / "outputs/demo"
        assert (demo / "run/checkpoints/last").exists() and (demo / "export").is_dir()
        assert "Demo finished: data, train, eval, export" in result.stderr

    return check


def prep_train(tmp: Path, request, monkeypatch) -> Check:
    # The example's config: a tiny ACT on CPU (what `kuavo config-init` writes would train a real ResNet).
    shutil.copytree(request.getfixturevalue("synthetic_dataset"), tmp / "data/task1_lerobot")
    cfg = train_config(Path("data/elsewhere"), Path("unused"), TINY_ACT, eval_freq=10, save_freq=20)
    del cfg["output_dir"]  # the default run folder, under ./outputs/train
    (tmp / "configs").mkdir()
    write_config(tmp / "configs/act_task1.yaml", cfg)

    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        assert "Trained 20 steps" in result.stdout
        runs = [p.parent.parent for p in (cwd / "outputs/train").rglob("checkpoints/last")]
        assert len(runs) == 1 and (runs[0] / "metrics.jsonl").exists()

    return check


def prep_eval(tmp: Path, request, monkeypatch) -> Check:
    run = request.getfixturevalue("kuavo_act_run")
    _copy_run(run, tmp / "outputs/train/my_run")
    _copy_run(run, tmp / "outputs/train/other_run")

    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        assert "my_run" in result.stdout and "other_run" in result.stdout
        assert len(list((cwd / "outputs/train").glob("*/eval/*/report.json"))) == 2

    return check


def prep_export(tmp: Path, request, monkeypatch) -> Check:
    _copy_run(request.getfixturevalue("kuavo_act_run"), tmp / "outputs/train/run1")

    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        assert list((cwd / "exports/run1-onnx").glob("*.onnx"))

    return check


def prep_serve(tmp: Path, request, monkeypatch) -> Check:
    """The example blocks until stopped: a client thread waits for it, takes one action and sends `kill`."""
    import threading

    import torch

    from kuavo_cli.serve.dropin_client import PolicyClient

    _copy_run(request.getfixturevalue("kuavo_act_run"), tmp / "outputs/train/run1")
    got: dict = {}

    def drive() -> None:
        with PolicyClient(port=5555, startup_timeout_s=180) as client:
            shapes = client.info["input_features"]
            got["action"] = client.select_action({k: torch.zeros(1, *v) for k, v in shapes.items()})
            client.kill_server()

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()

    def check(result: Result, cwd: Path) -> None:
        thread.join(timeout=60)
        _ok(result)
        assert got["action"].shape == (1, 16) and "ready on tcp://127.0.0.1:5555" in result.stderr

    return check


def prep_doctor(tmp: Path, request, monkeypatch) -> Check:
    def check(result: Result, cwd: Path) -> None:
        # ok / warning / error depend on this machine; the exit code must agree with the summary.
        summary = re.search(r"(\d+) ok, (\d+) warning\(s\), (\d+) error\(s\)", result.stdout)
        assert summary, result.stdout + result.stderr
        assert result.exit_code == (1 if int(summary.group(3)) else 0)

    return check


def prep_cache(tmp: Path, request, monkeypatch) -> Check:
    shutil.copytree(request.getfixturevalue("synthetic_dataset"), tmp / "data/synthetic")

    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        assert list((cwd / ".cache/frames").glob("*/manifest.json")) and "Frame cache built" in result.stdout

    return check


def prep_bench(tmp: Path, request, monkeypatch) -> Check:
    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        report = json.loads((cwd / "outputs/bench-smoke/report.json").read_text())
        assert all(run["ok"] for run in report["pipeline"]["cpu"]["variants"].values())

    return check


def prep_sim_check(tmp: Path, request, monkeypatch) -> Check:
    from tests.sim_official_fixture import write_official_checkout

    write_official_checkout(tmp / "kuavo-ros-opensource")

    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        assert "all checks passed" in result.stdout and "scene task3" in result.stdout

    return check


def _task_copies(tmp: Path, request, names: tuple[str, ...]) -> None:
    for name in names:
        shutil.copytree(request.getfixturevalue("synthetic_dataset"), tmp / "data" / name)


def prep_dataset_check(tmp: Path, request, monkeypatch) -> Check:
    _task_copies(tmp, request, ("task1",))

    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        assert "0 flagged" in result.stdout and (cwd / "task1-quality.png").stat().st_size > 10_000

    return check


def prep_dataset_edit(tmp: Path, request, monkeypatch) -> Check:
    _task_copies(tmp, request, ("task1",))

    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        info = json.loads((cwd / "data/task1-clean/meta/info.json").read_text())
        assert info["total_episodes"] == 3 and "deleted 3: [1, 3, 4]" in result.stdout

    return check


def prep_dataset_split(tmp: Path, request, monkeypatch) -> Check:
    _task_copies(tmp, request, ("task1",))

    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        counts = [json.loads((cwd / f"data/task1-split/{n}/meta/info.json").read_text())["total_episodes"]
                  for n in ("train", "val")]  # fmt: skip
        assert counts == [5, 1]

    return check


def prep_dataset_merge(tmp: Path, request, monkeypatch) -> Check:
    _task_copies(tmp, request, ("task1", "task2", "task3"))

    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        assert json.loads((cwd / "data/tasks123/meta/info.json").read_text())["total_episodes"] == 18

    return check


def prep_help_only(tmp: Path, request, monkeypatch) -> Check:
    def check(result: Result, cwd: Path) -> None:
        _ok(result)
        assert "Usage: kuavo" in result.stdout

    return check


SCENARIOS: dict[str, Callable[..., Check]] = {
    "download": prep_download,
    "inspect": prep_inspect,
    "convert": prep_convert,
    "config-init": prep_config_init,
    "config show": prep_config_show,
    "config validate": prep_config_validate,
    "demo-data": prep_demo_data,
    "demo": prep_demo,
    "train": prep_train,
    "eval": prep_eval,
    "export": prep_export,
    "serve": prep_serve,
    "doctor": prep_doctor,
    "cache": prep_cache,
    "bench": prep_bench,
    "sim check": prep_sim_check,
    "dataset check": prep_dataset_check,
    "dataset edit": prep_dataset_edit,
    "dataset split": prep_dataset_split,
    "dataset merge": prep_dataset_merge,
}

# Examples run once per session by a conftest fixture, because other tests use what they write: `kuavo demo`
# records and trains the stand-in policy that tests/test_sim_learning.py scores in closed loop.
SHARED_EXAMPLE_RUNS: dict[str, str] = {"demo": "demo_example"}
# Examples that take minutes (left out of `make test-fast`): the demo records, trains 300 steps, runs the sim.
SLOW_EXAMPLES = {"demo"}
