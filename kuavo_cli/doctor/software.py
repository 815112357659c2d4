"""Python, the packages kuavo stands on, FFmpeg and whether torchcodec can load it."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from kuavo_cli.doctor.base import Check, error, ok, short_error, warning

# Packages reported, and what to install when one is missing or outside its range.
PACKAGES = {
    "lerobot": "pip install 'lerobot[dataset,training]==0.6.1'",
    "torch": "pip install 'torch>=2.7,<2.12'",
    "accelerate": "pip install 'accelerate>=1.14,<2'",
    "torchcodec": "pip install 'torchcodec<0.12'",
    "typer": "pip install 'typer>=0.15,<0.26'",
}
# Extras under which kuavo (lerobot[dataset,training]) pulls its dependencies in.
_EXTRAS = ("", "dataset", "training", "av-dep", "accelerate-dep")


def check_python() -> Check:
    version = ".".join(str(v) for v in sys.version_info[:3])
    where = f"{version} at {sys.executable}"
    if sys.version_info[:2] != (3, 12):
        return error(
            "python",
            f"{where}; kuavo and lerobot 0.6.1 are built for Python 3.12",
            "pyenv install 3.12 && pyenv local 3.12 && make setup",
        )
    return ok("python", where)


def _required_specs(package: str) -> list[tuple[str, SpecifierSet]]:
    """(who requires it, specifier) from the installed metadata of kuavo-cli and lerobot."""
    found = []
    for owner in ("kuavo-cli", "lerobot"):
        try:
            requirements = md.requires(owner) or []
        except md.PackageNotFoundError:
            continue
        for text in requirements:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if req.name.lower() != package or not req.specifier:
                continue
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in _EXTRAS):
                found.append((owner, req.specifier))
    return found


def check_package(package: str) -> Check:
    fix = PACKAGES.get(package, f"pip install {package}")
    try:
        installed = md.version(package)
    except md.PackageNotFoundError:
        if package == "torchcodec":
            return warning(package, "not installed: lerobot decodes video with PyAV (slower)", fix)
        return error(package, "not installed", fix)
    for owner, spec in _required_specs(package):
        try:
            inside = spec.contains(Version(installed), prereleases=True)
        except InvalidVersion:
            inside = True
        if not inside:
            return error(package, f"{installed}, but {owner} needs {package}{spec}", fix)
    return ok(package, installed)


def check_packages() -> list[Check]:
    return [check_package(name) for name in PACKAGES]


def torchcodec_ffmpeg_majors() -> list[int]:
    """FFmpeg major versions the installed torchcodec ships a core library for (without importing it)."""
    spec = importlib.util.find_spec("torchcodec")
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(next(iter(spec.submodule_search_locations)))
    majors = {
        int(m.group(1)) for p in folder.glob("libtorchcodec_core*") if (m := re.search(r"core(\d+)", p.name))
    }
    return sorted(majors)


def ffmpeg_cli_version(ffmpeg: str) -> str | None:
    """'8.0' from `ffmpeg -version`, None when it cannot be read."""
    try:
        proc = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"ffmpeg version n?(\d+(?:\.\d+)*)", proc.stdout)
    return m.group(1) if m else None


def _install_ffmpeg(below: int, current: str | None = None) -> str:
    """The command that installs a torchcodec-compatible FFmpeg here (conda env, else apt, else conda)."""
    conda = os.environ.get("CONDA_PREFIX")
    if conda:
        return f'conda install -c conda-forge "ffmpeg<{below}" -y'
    if shutil.which("apt-get"):
        cmd = "sudo apt-get install -y ffmpeg"
        if current and Path(current).parent != Path("/usr/bin"):
            cmd += f"  # then take {Path(current).parent} off PATH: it shadows /usr/bin/ffmpeg"
        return cmd
    return f'conda install -c conda-forge "ffmpeg<{below}" -y  # or your system package manager'


def check_ffmpeg(loaded_major: int | None) -> Check:
    """The `ffmpeg` on PATH: present, a version torchcodec supports, and the same one torchcodec loaded."""
    majors = torchcodec_ffmpeg_majors()
    top = max(majors) if majors else 7
    below = top + 1 if top >= 8 else 8  # the seed README's `ffmpeg<8` when torchcodec predates FFmpeg 8
    path = shutil.which("ffmpeg")
    if path is None:
        return warning("ffmpeg", "no `ffmpeg` on PATH", _install_ffmpeg(below))
    version = ffmpeg_cli_version(path)
    if version is None:
        return warning("ffmpeg", f"{path}: `ffmpeg -version` gave no version", _install_ffmpeg(below, path))
    major = int(version.split(".")[0])
    supported = f"{min(majors)}-{top}" if majors else "none"
    if major >= below or (majors and major not in majors):
        return error(
            "ffmpeg",
            f"{version} at {path}; the installed torchcodec supports FFmpeg {supported} "
            "(lerobot falls back to slower PyAV decoding)",
            _install_ffmpeg(below, path),
        )
    if loaded_major is not None and loaded_major != major:
        return warning(
            "ffmpeg",
            f"{version} at {path}, but torchcodec loaded FFmpeg {loaded_major} libraries from elsewhere: "
            "two FFmpeg installs, and the one on PATH is not the one decoding your videos",
            _install_ffmpeg(below, path)
            if shutil.which("apt-get") and not os.environ.get("CONDA_PREFIX")
            else f"{_install_ffmpeg(below)}  # or take {Path(path).parent} off PATH",
        )
    return ok("ffmpeg", f"{version} at {path} (torchcodec supports {supported})")


def probe_torchcodec() -> tuple[int | None, str | None]:
    """(FFmpeg major torchcodec loaded, None) or (None, why it cannot load), as lerobot itself tries it."""
    if importlib.util.find_spec("torchcodec") is None:
        return None, "torchcodec is not installed"
    try:
        import torchcodec
        from torchcodec.decoders import VideoDecoder  # noqa: F401  (loads the FFmpeg libraries)
    except (ImportError, OSError, RuntimeError) as err:
        return None, short_error(err)
    return int(torchcodec.ffmpeg_major_version), None


def check_torchcodec(loaded_major: int | None, problem: str | None) -> Check:
    if problem is None:
        return ok("video decoding", f"torchcodec with FFmpeg {loaded_major} libraries")
    majors = torchcodec_ffmpeg_majors()
    below = max(majors) + 1 if majors and max(majors) >= 8 else 8
    return warning(
        "video decoding",
        f"torchcodec cannot load FFmpeg ({problem}): lerobot falls back to PyAV, which decodes slower",
        _install_ffmpeg(below),
    )
