"""`--format submission`: the package the organisers ask for, built from templates/submission/.

Out folder:
    <team>_task<N>_submission/        Docker build context: Dockerfile, run_with_gpu.sh, build_submission.sh,
                                      README.md, the policy in the kit layout, kuavo_submission/ (entry point)
    <team>_task<N>_submission.zip     that folder, zipped
The organisers want one archive holding the image tar and run_with_gpu.sh; building the image needs Docker
and the team's kit checkout, so build_submission.sh does that last step (we run it when both are at hand).

Two modes. in-process (ACT, Diffusion): the kit's own wrappers load the policy, as kit.py lays it out.
client (any other policy, or --client): the kit runs `policy_type: client` with kuavo's drop-in
PolicyClient, and the image's entry point starts `kuavo serve` (its own Python 3.12 + lerobot 0.6.1 env,
kuavo's source vendored under kuavo_submission/serve/src) on loopback before the graders' shell starts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
import zipfile
from pathlib import Path

from kuavo_cli.checkpoints import CheckpointRef
from kuavo_cli.errors import KuavoError, UsageError
from kuavo_cli.export.client_mode import plan_client_layout, write_client_layout
from kuavo_cli.export.common import ExportResult, check_out, list_files, policy_type, source_paths, staged_dir
from kuavo_cli.export.kit import SNIPPET_PATH, SUBMISSION_IN_PROCESS_TYPES, KitLayout, plan_layout, write_kit
from kuavo_cli.export.scrub import assert_clean

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "submission"
BASE_IMAGE = "ros:noetic-ros-core-focal"
# template file -> path in the package, executable?
TEMPLATES = {
    "Dockerfile": ("Dockerfile", False),
    "dockerignore": (".dockerignore", False),
    "run_with_gpu.sh": ("run_with_gpu.sh", True),
    "build_submission.sh": ("build_submission.sh", True),
    "README.md": ("README.md", False),
    "apply_inference_config.py": ("kuavo_submission/apply_inference_config.py", False),
}
MODE_TEMPLATES = {
    "in-process": {"infer.py": ("kuavo_submission/infer.py", False)},
    "client": {
        "infer_client.py": ("kuavo_submission/infer.py", False),
        "entrypoint.sh": ("kuavo_submission/entrypoint.sh", True),
        "enable_client_mode.py": ("kuavo_submission/enable_client_mode.py", False),
    },
}
SERVE_DIR = Path("kuavo_submission/serve")  # requirements.txt + src/kuavo_cli, copied to /opt/kuavo-serve
# lerobot extras a served policy type needs beyond kuavo's own (lerobot[dataset,training,diffusion])
POLICY_EXTRAS = {
    "pi0": "pi",
    "pi05": "pi",
    "pi0_fast": "pi",
    "smolvla": "smolvla",
    "groot": "groot",
    "xvla": "xvla",
}


def submission_names(team: str | None, task: int | None) -> tuple[str, str, str]:
    """(image name, archive name, folder name); the image tar is `<image>.tar`, as run_with_gpu.sh expects."""
    if not team:
        raise UsageError(
            "--format submission needs --team NAME", "e.g. --team lejuteam (letters, digits, - or _)"
        )
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", team):
        raise UsageError(f"--team {team!r} may only hold letters, digits, - and _", "e.g. --team lejuteam")
    if task is None:
        raise UsageError("--format submission needs --task N", "the competition task number, e.g. --task 1")
    if task < 1:
        raise UsageError(f"--task {task} must be a positive task number (1, 2, 3 ...)")
    folder = f"{team}_task{task}_submission"
    image = re.sub(r"[^a-z0-9_.-]", "_", f"{team}_task{task}".lower())  # docker names are lowercase
    return image, f"{folder}.zip", folder


def docker_engine_available() -> bool:
    """The client alone is not enough: `docker info` must reach an engine."""
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def render_templates(pkg: Path, values: dict[str, str], mode: str = "in-process") -> None:
    if not TEMPLATE_DIR.is_dir():
        raise KuavoError(
            f"submission templates not found at {TEMPLATE_DIR}",
            "install kuavo-cli from a source checkout (pip install -e .) so templates/submission/ is present",
        )
    for name, (dest_rel, executable) in {**TEMPLATES, **MODE_TEMPLATES[mode]}.items():
        text = (TEMPLATE_DIR / name).read_text()
        for key, value in values.items():
            text = text.replace(f"@@{key}@@", value)
        if "@@" in text:
            left = re.findall(r"@@\w+@@", text)
            raise KuavoError(f"template {name} has unfilled placeholders {left}")
        dest = pkg / dest_rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)
        dest.chmod(0o755 if executable else 0o644)


def zip_folder(folder: Path, archive: Path) -> None:
    """Zip with the folder name as the top-level entry; keeps the scripts' executable bit."""
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo.from_file(
                path, arcname=f"{folder.name}/{path.relative_to(folder).as_posix()}"
            )
            info.compress_type = zipfile.ZIP_DEFLATED
            with path.open("rb") as f:
                zf.writestr(info, f.read())


def export_submission(
    ref: CheckpointRef,
    out: Path,
    team: str | None,
    task: int | None,
    force: bool = False,
    device: str = "cuda",
    kit_dir: Path | None = None,
    client: bool = False,
) -> ExportResult:
    image, archive, folder = submission_names(team, task)
    mode = "client" if client or policy_type(ref) not in SUBMISSION_IN_PROCESS_TYPES else "in-process"
    layout = plan_client_layout(ref, task, device) if mode == "client" else plan_layout(ref, task, device)
    if kit_dir is not None and not (Path(kit_dir) / "kuavo_deploy").is_dir():
        raise UsageError(f"--kit {kit_dir} is not a kuavo_data_challenge checkout (no kuavo_deploy/ inside)")
    check_out(out, force)
    with staged_dir(out, force) as stage:
        pkg = stage / folder
        pkg.mkdir()
        if mode == "client":
            write_client_layout(ref, pkg, layout, Path("kuavo_submission"))
        else:
            write_kit(ref, pkg, layout)
            (pkg / "kuavo_submission").mkdir()
            (pkg / "kuavo_submission" / "policy.json").write_text(
                json.dumps(layout.inference_section(), indent=2) + "\n"
            )
        values = _template_values(ref, layout, team or "", task or 0, image, archive)
        render_templates(pkg, {**values, **_mode_values(mode, layout)}, mode)
        assert_clean(pkg, extra_literals=source_paths(ref))
        if (
            mode == "client"
        ):  # kuavo's own source, verbatim: added after the scan (its scrub rules name /tmp/)
            vendor_serve_env(pkg / SERVE_DIR, layout.method)
        zip_folder(pkg, stage / archive)

    details = {
        "team": team,
        "task": task,
        "mode": mode,
        "image": image,
        "image_tar": f"{image}.tar",
        "archive": str(out / archive),
        "package": str(out / folder),
        "base_image": BASE_IMAGE,
        "kit": layout.inference_section(),
        "docker_built": False,
    }
    notes = []
    if not docker_engine_available():
        notes.append(
            f"No Docker engine here (docker info failed), so the image was not built. On a machine with Docker: "
            f"cd {out / folder} && ./build_submission.sh /path/to/kuavo_data_challenge  "
            f"(docker build -t {image} . && docker save -o {image}.tar {image}:latest, then zips "
            f"{image}.tar + run_with_gpu.sh into {archive})"
        )
    elif kit_dir is None:
        notes.append(
            f"Docker is available: pass --kit /path/to/kuavo_data_challenge to build {image}.tar here"
        )
    else:
        _build_image(out / folder, Path(kit_dir), out, image, archive)
        details["docker_built"] = True
        notes.append(f"{out / archive} now holds {image}.tar and run_with_gpu.sh: upload it")
    notes.append("The archive name and format are UNCONFIRMED by the kit; check the competition page.")
    return ExportResult("submission", out, list_files(out), details=details, notes=notes)


def _template_values(
    ref: CheckpointRef, layout: KitLayout, team: str, task: int, image: str, archive: str
) -> dict[str, str]:
    return {
        "TEAM": team,
        "TASK": str(task),
        "IMAGE_NAME": image,
        "ZIP_NAME": archive,
        "POLICY_TYPE": layout.policy_type,
        "STEP": str(ref.step) if ref.step is not None else "unknown",
        "RUN_REL": layout.run_rel.as_posix(),
        "EPOCH": str(layout.epoch),
        "SNIPPET": SNIPPET_PATH.as_posix(),
    }


def _mode_values(mode: str, layout: KitLayout) -> dict[str, str]:
    if mode == "in-process":
        return {
            "CLIENT_BUILD": "",
            "SERVE_LAYERS": "",
            "MODE_NOTE": "Mode: **in-process**. The kit's own wrappers load the policy "
            f"(`inference.policy_type: {layout.policy_type}`).",
        }
    return {
        "CLIENT_BUILD": "# client mode: kuavo's drop-in PolicyClient, and the kit's config check accepts `client`\n"
        "COPY kuavo_deploy/kuavo_service/client.py ./kuavo_deploy/kuavo_service/client.py\n"
        "RUN bash -c \"source myenv/bin/activate && python -c 'import zmq' "
        '&& python kuavo_submission/enable_client_mode.py"\n',
        "SERVE_LAYERS": (TEMPLATE_DIR / "serve_layers.Dockerfile").read_text(),
        "SERVED": layout.epoch_rel.as_posix(),
        "MODE_NOTE": f"Mode: **client**. The kit runs `inference.policy_type: client`; the image's entry point "
        f"starts `kuavo serve {layout.epoch_rel.as_posix()}` (Python 3.12, lerobot 0.6.1, log in "
        "/var/log/kuavo_serve.log) and the kit's PolicyClient asks it for every action over loopback.",
    }


def serve_requirements(method: str) -> list[str]:
    """kuavo-cli's own dependencies (from its pyproject), lerobot with the extra this policy type needs."""
    pyproject = TEMPLATE_DIR.parents[1] / "pyproject.toml"
    if not pyproject.is_file():
        raise KuavoError(
            f"{pyproject} not found", "install kuavo-cli from a source checkout (pip install -e .)"
        )
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    extra = POLICY_EXTRAS.get(method)
    if extra is None:
        return list(deps)
    return [re.sub(r"^lerobot\[([^\]]*)\]", lambda m: f"lerobot[{m.group(1)},{extra}]", d) for d in deps]


def vendor_serve_env(dest: Path, method: str) -> None:
    """requirements.txt and a verbatim copy of the kuavo_cli package (Python files and package data)."""
    src = Path(__file__).resolve().parents[1]
    target = dest / "src" / "kuavo_cli"
    shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "requirements.txt").write_text(
        "# kuavo serve's environment in the submission image (uv pip install -r requirements.txt)\n"
        + "\n".join(serve_requirements(method))
        + "\n"
    )


def _build_image(pkg: Path, kit_dir: Path, out: Path, image: str, archive: str) -> None:
    """Run the package's own build script; then the archive to upload replaces the source zip."""
    proc = subprocess.run(
        ["sh", "build_submission.sh", str(kit_dir.resolve())], cwd=pkg, capture_output=True, text=True
    )
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise KuavoError(
            f"build_submission.sh failed (exit {proc.returncode}): {tail}", "fix the docker build"
        )
    os.replace(pkg / archive, out / archive)
    os.replace(pkg / f"{image}.tar", out / f"{image}.tar")
    shutil.rmtree(pkg / "kit", ignore_errors=True)
