"""Keep local paths and secrets out of what we publish: redact paths in configs, then scan every file written.

Paths are expected in training configs (dataset root, output dir) and are harmless once redacted. A token is
never expected: it is not silently rewritten but makes the export fail, so the user learns it was there.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kuavo_cli.errors import KuavoError

REDACTED_PREFIX = "<local>/"

# Paths inside the submission image that the kit itself requires; not host paths.
CONTAINER_PATHS = ("/root/kuavo_data_challenge",)

_HOST_PATH_RES = [
    re.compile(rb"/home/[A-Za-z0-9._-]+"),
    re.compile(rb"/Users/[A-Za-z0-9._-]+"),
    re.compile(rb"/root/[A-Za-z0-9._-]+"),
    re.compile(rb"(?<![A-Za-z0-9_.~-])/tmp/"),
    re.compile(rb"/private/(?:tmp|var)/"),
    re.compile(rb"/var/folders/"),
    re.compile(rb"[A-Za-z]:\\\\?Users\\\\?"),
]
_TOKEN_RES = [
    ("Hugging Face token", re.compile(rb"hf_[A-Za-z0-9]{30,}")),
    ("GitHub token", re.compile(rb"gh[pousr]_[A-Za-z0-9]{30,}")),
    ("API key", re.compile(rb"sk-[A-Za-z0-9_-]{32,}")),
    ("private key", re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
]
_SECRET_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "WANDB_API_KEY")


@dataclass(frozen=True)
class Finding:
    file: str
    kind: str  # "absolute path" | "<token kind>"
    excerpt: str


def looks_like_local_path(value: str) -> bool:
    if value.startswith(("/", "~")) and len(value) > 1:
        return True
    return bool(re.match(r"^[A-Za-z]:[\\/]", value))


def redact_paths(obj: Any) -> Any:
    """Replace every absolute local path string in a config tree by `<local>/<last part>`."""
    if isinstance(obj, dict):
        return {k: redact_paths(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact_paths(v) for v in obj]
    if isinstance(obj, str) and looks_like_local_path(obj):
        name = re.split(r"[\\/]", obj.rstrip("/\\"))[-1]
        return REDACTED_PREFIX + name
    return obj


def _readable_bytes(path: Path) -> bytes:
    """The bytes worth scanning: a safetensors header (not megabytes of weights), else the whole file."""
    if path.suffix == ".safetensors":
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                return head
            (n,) = struct.unpack("<Q", head)
            return f.read(min(n, 100 << 20))
    return path.read_bytes()


def _host_literals() -> list[bytes]:
    """This machine's own paths, which no published file may contain."""
    literals = []
    home = str(Path.home())
    if home not in ("/", "") and len(home) > 5:
        literals.append(home.encode())
    cwd = os.getcwd()
    if len(cwd) > 5:
        literals.append(cwd.encode())
    for name in _SECRET_ENV:
        value = os.environ.get(name, "")
        if len(value) >= 8:
            literals.append(value.encode())
    return literals


def scan_tree(root: Path, extra_literals: list[str] | None = None) -> list[Finding]:
    """Every absolute host path or token-like string in any file under `root`."""
    findings: list[Finding] = []
    literals = _host_literals() + [s.encode() for s in (extra_literals or []) if len(s) > 5]
    secret_values = {os.environ.get(n, "").encode() for n in _SECRET_ENV} - {b""}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = str(path.relative_to(root))
        data = _readable_bytes(path)
        for allowed in CONTAINER_PATHS:
            data = data.replace(allowed.encode(), b"")
        for kind, rx in _TOKEN_RES:
            for m in rx.finditer(data):
                findings.append(Finding(rel, kind, _mask(m.group(0))))
        for rx in _HOST_PATH_RES:
            for m in rx.finditer(data):
                findings.append(Finding(rel, "absolute path", _context(data, m.start())))
        for lit in literals:
            if lit in data:
                kind = "secret from the environment" if lit in secret_values else "absolute path"
                excerpt = _mask(lit) if lit in secret_values else lit.decode(errors="replace")
                findings.append(Finding(rel, kind, excerpt))
    return _dedupe(findings)


def assert_clean(root: Path, extra_literals: list[str] | None = None) -> None:
    """Raise (exit 1, the caller discards the staged output) when anything private would be published."""
    findings = scan_tree(root, extra_literals)
    if not findings:
        return
    first = findings[0]
    more = f" and {len(findings) - 1} more" if len(findings) > 1 else ""
    raise KuavoError(
        f"refusing to publish: {first.file} contains a {first.kind} ({first.excerpt}){more}; nothing was written",
        "remove it from the training config / checkpoint files (tokens belong in `hf auth login`, not configs)",
    )


def _mask(raw: bytes) -> str:
    text = raw.decode(errors="replace")
    return text[:5] + "..." if len(text) > 8 else "***"


def _context(data: bytes, start: int) -> str:
    end = start
    while (
        end < len(data) and end - start < 60 and data[end : end + 1] not in (b'"', b"'", b"\n", b" ", b"\x00")
    ):
        end += 1
    return data[start:end].decode(errors="replace")


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for f in findings:
        key = (f.file, f.kind, f.excerpt)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
