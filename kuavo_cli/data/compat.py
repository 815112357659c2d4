"""Can several LeRobot datasets be merged or trained on together? The first difference, by feature key."""

from __future__ import annotations

from typing import Any

from kuavo_cli.errors import UsageError


def _shape(feature: dict) -> list[int]:
    return [int(s) for s in feature.get("shape") or ()]


def first_difference(features_a: dict, features_b: dict) -> str | None:
    """The first feature key whose presence, dtype or shape differs (names and encoder settings may)."""
    for key in sorted(set(features_a) | set(features_b)):
        if key not in features_b:
            return f"{key!r} is only in the first"
        if key not in features_a:
            return f"{key!r} is only in the second"
        a, b = features_a[key], features_b[key]
        if a.get("dtype") != b.get("dtype"):
            return f"{key!r} has dtype {a.get('dtype')} vs {b.get('dtype')}"
        if _shape(a) != _shape(b):
            return f"{key!r} has shape {_shape(a)} vs {_shape(b)}"
    return None


def require_compatible(metas: list[Any], labels: list[str], what: str) -> None:
    """Raise a UsageError naming the key when a dataset's fps or features differ from the first one's."""
    first, first_label = metas[0], labels[0]
    for meta, label in zip(metas[1:], labels[1:], strict=True):
        if meta.fps != first.fps:
            raise UsageError(
                f"cannot {what}: {label} records at {meta.fps} fps, {first_label} at {first.fps} fps",
                "use datasets converted with the same --fps",
            )
        diff = first_difference(first.features, meta.features)
        if diff:
            raise UsageError(
                f"cannot {what}: features differ between {first_label} and {label}: {diff}",
                "convert them with the same options (cameras, --size, state/action layout)",
            )
