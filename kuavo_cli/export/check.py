"""`kuavo export --check PACKAGE`: verify a submission before upload, without Docker.

PACKAGE is what `--format submission` wrote: the out folder, the `<team>_task<N>_submission/` folder, its
zip, or the upload archive build_submission.sh makes (`<image>.tar` + `run_with_gpu.sh`). Checked:
- names: the folder / archive names, `run_with_gpu.sh` (the organisers' fixed name), the image tar name the
  run script loads, the upload archive holding exactly those two files;
- scripts: run_with_gpu.sh, build_submission.sh (and entrypoint.sh in client mode) parse (`sh -n`),
  are executable and agree on the image name;
- layout: one model set under outputs/, the one policy.json and the deploy snippet point at;
- sizes: package, weights and image tar, reported;
- the policy loads in the package's environment: the package's own smoke test (kuavo_submission/infer.py)
  runs in the kit's Python 3.10 + lerobot 0.4.2 env when one is found (KUAVO_KIT_PYTHON or the cached
  ~/.cache/kuavo/kit-env-lerobot-0.4.2), else in this Python; in client mode against the package's own
  vendored `kuavo serve`, started on a free loopback port.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from kuavo_cli.errors import UsageError
from kuavo_cli.export.check_run import run_smoke_test

FOLDER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}_task\d+_submission")
RUN_SCRIPT = "run_with_gpu.sh"
SNIPPET = Path("configs/deploy/kuavo_env.inference.yaml")


@dataclass
class Check:
    name: str
    status: str  # ok | fail | warn
    detail: str

    @property
    def ok(self) -> bool:
        return self.status != "fail"


class Report:
    def __init__(self, target: Path) -> None:
        self.target = target
        self.checks: list[Check] = []
        self.sizes: dict[str, int] = {}
        self.mode: str | None = None

    def add(self, name: str, passed: bool, detail: str, warn_only: bool = False) -> bool:
        self.checks.append(Check(name, "ok" if passed else ("warn" if warn_only else "fail"), detail))
        return passed

    def to_dict(self) -> dict[str, Any]:
        return {
            "package": str(self.target),
            "mode": self.mode,
            "ok": all(c.ok for c in self.checks),
            "checks": [asdict(c) for c in self.checks],
            "sizes_bytes": self.sizes,
        }


def check_package(path: str | Path, kit_python: str | None = None, load: bool = True) -> dict[str, Any]:
    target = Path(path)
    if not target.exists():
        raise UsageError(f"--check {target} does not exist", "pass the submission folder or its archive")
    report = Report(target)
    with tempfile.TemporaryDirectory(prefix="kuavo-check-") as tmp:
        for kind, item in _locate(target, Path(tmp), report):
            if kind == "upload":
                _check_upload_archive(item, report)
            else:
                _check_folder(item, report, kit_python, load)
    if not report.checks:
        report.add(
            "package", False, f"{target} holds no submission (no {RUN_SCRIPT}, no *_submission folder)"
        )
    return report.to_dict()


def _locate(target: Path, tmp: Path, report: Report) -> list[tuple[str, Path]]:
    """(kind, path) pairs to check: "upload" archives and "folder" source packages."""
    if target.is_file():
        if zipfile.is_zipfile(target):
            return [_unpack(target, tmp, report)]
        report.add(
            "archive",
            False,
            f"{target.name} is not a zip archive (kuavo builds zip; the format is UNCONFIRMED)",
        )
        return []
    if (target / RUN_SCRIPT).exists() or (target / "kuavo_submission").is_dir():
        return [("folder", target)]
    found: list[tuple[str, Path]] = []
    folders = sorted(p for p in target.iterdir() if p.is_dir() and p.name.endswith("_submission"))
    found += [("folder", p) for p in folders]
    for archive in sorted(target.glob("*.zip")):
        kind, item = _unpack(archive, tmp, report)
        if kind == "upload" or not folders:
            found.append((kind, item))
    if not found and any(target.iterdir()):
        report.add("name", False, f"{target} has no <team>_task<N>_submission folder or archive")
    return found


def _unpack(archive: Path, tmp: Path, report: Report) -> tuple[str, Path]:
    with zipfile.ZipFile(archive) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        if any(n == RUN_SCRIPT or n.endswith(".tar") for n in names if "/" not in n):
            return "upload", archive
        tops = {n.split("/", 1)[0] for n in names}
        report.add(
            "archive name",
            len(tops) == 1 and archive.name == f"{next(iter(tops))}.zip",
            f"{archive.name} holds {', '.join(sorted(tops))}/ (expected the folder named like the archive)",
        )
        dest = tmp / archive.stem
        zf.extractall(dest)
        for info in zf.infolist():  # zipfile drops the executable bit; the check looks at it
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(dest / info.filename, mode)
    return "folder", dest / next(iter(tops))


def _check_upload_archive(archive: Path, report: Report) -> None:
    report.sizes[archive.name] = archive.stat().st_size
    with zipfile.ZipFile(archive) as zf:
        names = sorted(n for n in zf.namelist() if not n.endswith("/"))
        tars = [n for n in names if n.endswith(".tar")]
        report.add(
            "upload archive",
            len(names) == 2 and RUN_SCRIPT in names and len(tars) == 1,
            f"{archive.name}: {', '.join(names)} (the organisers want exactly <image>.tar and {RUN_SCRIPT})",
        )
        if RUN_SCRIPT in names and tars:
            image = _image_name(zf.read(RUN_SCRIPT).decode(errors="replace"))
            report.add(
                "image tar name",
                f"{image}.tar" == tars[0],
                f"{RUN_SCRIPT} loads {image}.tar; the archive holds {tars[0]}",
            )
            report.sizes[tars[0]] = zf.getinfo(tars[0]).file_size
    report.add("policy loads", False, "a built image runs only under Docker: not loaded here", warn_only=True)


def _check_folder(pkg: Path, report: Report, kit_python: str | None, load: bool) -> None:
    report.add(
        "folder name",
        bool(FOLDER_RE.fullmatch(pkg.name)),
        f"{pkg.name} (expected <team>_task<N>_submission, as --format submission names it)",
    )
    run_script = pkg / RUN_SCRIPT
    if not report.add(
        "run script",
        run_script.is_file(),
        f"{RUN_SCRIPT} {'present' if run_script.is_file() else 'missing (the organisers require this exact name)'}",
    ):
        image = None
    else:
        image = _check_script(run_script, report)
        text = run_script.read_text(errors="replace")
        report.add(
            "run script loads the image tar",
            'IMAGE_TAR="${IMAGE_NAME}.tar"' in text and "docker load" in text and "--gpus all" in text,
            f"{RUN_SCRIPT} loads {image}.tar with `docker load` and runs it with --gpus all",
        )
    build = pkg / "build_submission.sh"
    if report.add(
        "build script",
        build.is_file(),
        "build_submission.sh " + ("present" if build.is_file() else "missing"),
    ):
        built_image = _check_script(build, report)
        if image is not None:
            report.add(
                "image name",
                built_image == image,
                f"build_submission.sh builds {built_image}, {RUN_SCRIPT} loads {image}",
            )
        zip_name = re.search(r'^ZIP_NAME="([^"]+)"', build.read_text(), re.M)
        report.add(
            "archive name",
            zip_name is not None and zip_name.group(1) == f"{pkg.name}.zip",
            f"build_submission.sh writes {zip_name.group(1) if zip_name else '?'} (expected {pkg.name}.zip)",
        )
    report.add(
        "Dockerfile",
        (pkg / "Dockerfile").is_file(),
        "Dockerfile " + ("present" if (pkg / "Dockerfile").is_file() else "missing"),
    )
    info = _check_layout(pkg, report)
    if info is None:
        return
    if report.mode == "client":
        entry = pkg / "kuavo_submission" / "entrypoint.sh"
        if report.add("entry point", entry.is_file(), "kuavo_submission/entrypoint.sh starts kuavo serve"):
            _check_script(entry, report, shell="bash")
        client = pkg / "kuavo_deploy" / "kuavo_service" / "client.py"
        report.add(
            "drop-in client", client.is_file(), "kuavo_deploy/kuavo_service/client.py (kuavo's PolicyClient)"
        )
        src = pkg / "kuavo_submission" / "serve" / "src" / "kuavo_cli"
        report.add(
            "serve source",
            (src / "serve" / "api.py").is_file(),
            "kuavo_submission/serve/src/kuavo_cli (vendored)",
        )
    report.sizes["package"] = _tree_size(pkg)
    if load:
        ok, detail = run_smoke_test(pkg, report.mode or "in-process", kit_python)
        report.add("policy loads", ok, detail)
    else:
        report.add("policy loads", False, "skipped (--no-load)", warn_only=True)


def _check_layout(pkg: Path, report: Report) -> dict[str, Any] | None:
    policy_json = pkg / "kuavo_submission" / "policy.json"
    if not report.add(
        "policy.json", policy_json.is_file(), "kuavo_submission/policy.json names the model set"
    ):
        return None
    try:
        info = json.loads(policy_json.read_text())
        run_rel = Path("outputs/train") / info["task"] / info["method"] / info["timestamp"]
        epoch_rel = run_rel / f"epoch{info['epoch']}"
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        report.add("policy.json", False, f"kuavo_submission/policy.json is not valid: {err}")
        return None
    report.mode = "client" if info.get("policy_type") == "client" else "in-process"
    snippet = pkg / SNIPPET
    if report.add("deploy snippet", snippet.is_file(), f"{SNIPPET}"):
        inference = (yaml.safe_load(snippet.read_text()) or {}).get("inference", {})
        report.add("deploy snippet", inference == info, f"{SNIPPET} matches kuavo_submission/policy.json")
    runs = sorted(p.relative_to(pkg) for p in (pkg / "outputs" / "train").glob("*/*/*") if p.is_dir())
    report.add(
        "one model set",
        runs == [run_rel],
        f"outputs/train holds {', '.join(map(str, runs)) or 'nothing'} (expected only {run_rel})",
    )
    weights = pkg / epoch_rel / "model.safetensors"
    needed = [epoch_rel / "config.json", epoch_rel / "model.safetensors"]
    needed += [run_rel / "policy_preprocessor.json", run_rel / "policy_postprocessor.json"]
    missing = [str(p) for p in needed if not (pkg / p).is_file()]
    report.add(
        "policy files",
        not missing,
        "missing: " + ", ".join(missing) if missing else f"{epoch_rel}/ and {run_rel}/ processors",
    )
    if weights.is_file():
        report.sizes["weights"] = weights.stat().st_size
    return info


def _check_script(script: Path, report: Report, shell: str = "sh") -> str | None:
    text = script.read_text(errors="replace")
    syntax = subprocess.run([shutil.which(shell) or shell, "-n", str(script)], capture_output=True, text=True)
    report.add(
        f"{script.name} syntax",
        syntax.returncode == 0,
        f"{shell} -n {script.name}: {syntax.stderr.strip() or 'ok'}",
    )
    report.add(
        f"{script.name} executable",
        os.access(script, os.X_OK),
        f"{script.name} mode {oct(script.stat().st_mode & 0o777)}",
    )
    return _image_name(text)


def _image_name(text: str) -> str | None:
    match = re.search(r'^IMAGE_NAME="([^"]+)"', text, re.M)
    return match.group(1) if match else None


def _tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
