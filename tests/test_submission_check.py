"""Submissions in client mode (`kuavo serve` inside the image) and `kuavo export --check PACKAGE`.

No Docker engine here: these tests check the generated files, run the package's own smoke test against
its own vendored `kuavo serve`, and run the helper scripts the Dockerfile runs on a kit-shaped folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli

TEAM, TASK = "lejuteam", "1"
# kuavo's own lerobot requirement (pyproject.toml): the served environment in a client-mode image installs it
LEROBOT_REQ = next(
    d
    for d in tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    if d.startswith("lerobot[")
)
FOLDER = f"{TEAM}_task{TASK}_submission"


def export_submission(run: Path, out: Path, *extra: str) -> dict:
    res = run_cli("export", str(run), "--format", "submission", "--team", TEAM, "--task", TASK,
                  "--out", str(out), "--json", *extra)  # fmt: skip
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def check(package: Path, env: dict[str, str] | None = None) -> tuple[int, dict]:
    res = run_cli("export", "--check", str(package), "--json", env=env)
    assert res.stdout, res.stderr
    return res.exit_code, json.loads(res.stdout)


def failed(report: dict) -> dict[str, str]:
    return {c["name"]: c["detail"] for c in report["checks"] if c["status"] == "fail"}


@pytest.fixture(scope="module")
def client_package(lerobot_act_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sub") / "client"
    return out, export_submission(lerobot_act_run, out, "--client")


def test_client_submission_has_the_server_and_passes_check(
    client_package: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, data = client_package
    assert data["mode"] == "client" and data["kit"]["policy_type"] == "client"
    pkg = out / FOLDER
    docker = (pkg / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["/root/kuavo_data_challenge/kuavo_submission/entrypoint.sh"]' in docker
    assert "COPY kuavo_deploy/kuavo_service/client.py ./kuavo_deploy/kuavo_service/client.py" in docker
    assert "enable_client_mode.py" in docker and "uv venv --python 3.12" in docker
    entry = (pkg / "kuavo_submission" / "entrypoint.sh").read_text()
    served = f"outputs/train/task1/act/{data['kit']['timestamp']}/epoch{data['kit']['epoch']}"
    assert f'"{served}" --host 127.0.0.1' in entry and os.access(
        pkg / "kuavo_submission" / "entrypoint.sh", os.X_OK
    )
    reqs = (pkg / "kuavo_submission" / "serve" / "requirements.txt").read_text()
    assert LEROBOT_REQ in reqs and "pyzmq" in reqs
    vendored = pkg / "kuavo_submission" / "serve" / "src" / "kuavo_cli" / "serve" / "server.py"
    import kuavo_cli.serve.server as live

    assert vendored.read_bytes() == Path(live.__file__).read_bytes()
    with zipfile.ZipFile(out / f"{FOLDER}.zip") as zf:
        assert f"{FOLDER}/kuavo_deploy/kuavo_service/client.py" in zf.namelist()

    monkeypatch.chdir(out.parent)  # a relative PACKAGE: the vendored server must still be the one that runs
    code, report = check(Path(out.name))
    assert code == 0 and report["ok"] and report["mode"] == "client", failed(report)
    loads = next(c for c in report["checks"] if c["name"] == "policy loads")
    assert "one action of shape [16]" in loads["detail"] and "kuavo serve" in loads["detail"]
    assert report["sizes_bytes"]["weights"] > 0


def test_check_flags_a_missing_run_script_a_wrong_name_and_a_policy_that_does_not_load(
    client_package: tuple[Path, dict], tmp_path: Path
) -> None:
    from kuavo_cli.export.check import check_package

    out, _data = client_package
    no_script = tmp_path / "a" / FOLDER
    shutil.copytree(out / FOLDER, no_script)
    (no_script / "run_with_gpu.sh").unlink()
    report = check_package(no_script, load=False)  # names and files only: no server needed
    assert not report["ok"] and "exact name" in failed(report)["run script"]

    renamed = tmp_path / "b" / "my_submission"
    shutil.copytree(out / FOLDER, renamed)
    report = check_package(renamed, load=False)
    assert not report["ok"] and {"folder name", "archive name"} <= set(failed(report))

    broken = tmp_path / "c" / FOLDER
    shutil.copytree(out / FOLDER, broken)
    weights = next(broken.glob("outputs/train/*/*/*/epoch*/model.safetensors"))
    with weights.open("r+b") as f:
        f.truncate(1000)  # an interrupted copy
    res = run_cli("export", "--check", str(broken))
    fails = [line for line in res.stdout.splitlines() if line.startswith("FAIL")]
    assert res.exit_code == 1 and len(fails) == 1 and fails[0].startswith("FAIL policy loads"), res.stdout
    assert "1 problem(s): fix them before uploading" in res.stdout


def test_in_process_submission_passes_check(lerobot_act_run: Path, kit_python: Path, tmp_path: Path) -> None:
    # --check runs an in-process package's infer.py in the kit's own env (Python 3.10, lerobot 0.4.2).
    data = export_submission(lerobot_act_run, tmp_path / "sub")
    assert data["mode"] == "in-process"
    assert "ENTRYPOINT" not in (tmp_path / "sub" / FOLDER / "Dockerfile").read_text()
    code, report = check(tmp_path / "sub" / f"{FOLDER}.zip", env={"KUAVO_KIT_PYTHON": str(kit_python)})
    assert code == 0 and report["mode"] == "in-process", failed(report)


def test_policies_the_kit_cannot_load_get_client_mode(lerobot_act_run: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "vla"
    shutil.copytree(lerobot_act_run / "checkpoints" / "last" / "pretrained_model", ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**config, "type": "smolvla"}))
    data = export_submission(ckpt, tmp_path / "sub")
    assert data["mode"] == "client" and data["kit"]["method"] == "smolvla"
    reqs = (tmp_path / "sub" / FOLDER / "kuavo_submission" / "serve" / "requirements.txt").read_text()
    assert LEROBOT_REQ.replace("]==", ",smolvla]==") in reqs  # kuavo's extras plus the policy's own
    res = run_cli("export", str(ckpt), "--format", "kit", "--out", str(tmp_path / "kit"))
    assert res.exit_code == 2 and "not supported by the kit" in res.stderr
    res = run_cli("export", str(ckpt), "--format", "onnx", "--client")
    assert res.exit_code == 2 and "--client is for --format kit" in res.stderr


def test_upload_archive_check(client_package: tuple[Path, dict], tmp_path: Path) -> None:
    out, data = client_package
    image_tar = tmp_path / f"{data['image']}.tar"
    manifest = tmp_path / "manifest.json"
    manifest.write_text("[]")
    with tarfile.open(image_tar, "w") as tf:  # stands in for `docker save`
        tf.add(manifest, arcname="manifest.json")
    good = tmp_path / f"{FOLDER}.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.write(image_tar, image_tar.name)
        zf.write(out / FOLDER / "run_with_gpu.sh", "run_with_gpu.sh")
    code, report = check(good)
    assert code == 0 and report["sizes_bytes"][image_tar.name] > 0
    assert [c["status"] for c in report["checks"] if c["name"] == "policy loads"] == ["warn"]

    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.write(image_tar, "kdc_v0.tar")
        zf.write(out / FOLDER / "run_with_gpu.sh", "start.sh")
    code, report = check(bad)
    assert code == 1 and "upload archive" in failed(report)


def test_enable_client_mode_patches_the_kits_config_check(
    client_package: tuple[Path, dict], tmp_path: Path
) -> None:
    out, _data = client_package
    kit = tmp_path / "kit"
    shutil.copytree(out / FOLDER / "kuavo_submission", kit / "kuavo_submission")
    config_py = kit / "kuavo_deploy" / "config.py"
    config_py.parent.mkdir(parents=True)
    # the kit's ConfigInference.validate, as documented: only diffusion and act get through
    config_py.write_text(
        "class ConfigInference:\n    policy_type: str = 'diffusion'\n\n    def validate(self):\n"
        '        if self.policy_type not in ["diffusion", "act"]:\n'
        "            raise ValueError(f\"Unsupported policy_type '{self.policy_type}'\")\n"
    )
    script = [sys.executable, "kuavo_submission/enable_client_mode.py"]
    for _ in range(2):  # idempotent
        assert subprocess.run(script, cwd=kit, capture_output=True).returncode == 0
    namespace: dict = {}
    exec(config_py.read_text(), namespace)
    cfg = namespace["ConfigInference"]()
    cfg.policy_type = "client"
    cfg.validate()
    cfg.policy_type = "pi05"
    with pytest.raises(ValueError):
        cfg.validate()
    assert config_py.read_text().count('"client"') == 1
