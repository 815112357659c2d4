"""`kuavo doctor` as a library: `diagnose()` runs every check and returns the report (never raises)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kuavo_cli.doctor.base import Check
from kuavo_cli.doctor.runner import run_checks, summary

__all__ = ["Check", "DoctorReport", "diagnose"]


@dataclass
class DoctorReport:
    checks: list[Check]

    @property
    def counts(self) -> dict[str, int]:
        return summary(self.checks)

    @property
    def ok(self) -> bool:
        """No check is an error (warnings do not fail)."""
        return self.counts["error"] == 0

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "summary": self.counts, "checks": [c.as_dict() for c in self.checks]}


def diagnose(paths: list[Path] | None = None, num_workers: int | None = None) -> DoctorReport:
    """Packages, FFmpeg, GPUs, accelerate, hub, wandb, free disk of `paths` (default: here and the HF
    cache), cores for `num_workers` DataLoader workers per GPU."""
    return DoctorReport(run_checks(paths=paths, num_workers=num_workers))
