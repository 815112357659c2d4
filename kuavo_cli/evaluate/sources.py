"""Which dataset and which episodes a checkpoint is evaluated on, and whether its features fit that dataset.

Default episodes, most honest first: the held-out split our trainer recorded in <run>/split.json; the
episodes plain `lerobot-train` held out (`dataset.eval_split`, rebuilt with lerobot's own rule, or the
complement of `dataset.episodes`); else every episode, with a warning that training episodes are included.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kuavo_cli.checkpoints import CheckpointRef
from kuavo_cli.errors import UsageError

TRAIN_CONFIG_JSON = "train_config.json"


@dataclass
class DatasetChoice:
    root: Path
    repo_id: str
    is_training_dataset: bool  # the dataset the checkpoint was trained on (so its split applies)


@dataclass
class EpisodeChoice:
    episodes: list[int]
    source: str
    warnings: list[str] = field(default_factory=list)


def parse_episodes(text: str) -> list[int]:
    """'0,3,5-7' -> [0, 3, 5, 6, 7]."""
    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = (int(v) for v in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise UsageError(
                f"--episodes {text!r}: {part!r} is not an episode index or range", "use e.g. 0,3,5-7"
            ) from None
    if not out:
        raise UsageError(f"--episodes {text!r} names no episode", "use e.g. 0,3,5-7")
    return sorted(set(out))


def lerobot_train_config(ref: CheckpointRef) -> dict[str, Any] | None:
    """pretrained_model/train_config.json written by lerobot's trainer (and ours), if any."""
    path = ref.pretrained_dir / TRAIN_CONFIG_JSON
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UsageError(f"{path} is not valid JSON: {err}") from err


def _lerobot_home() -> Path:
    from lerobot.utils.constants import HF_LEROBOT_HOME

    return Path(HF_LEROBOT_HOME)


def _local_root(root: Path, label: str) -> Path:
    if not (root / "meta" / "info.json").exists():
        raise UsageError(
            f"dataset {label} not found at {root} (no meta/info.json)",
            "pass --dataset PATH to a local LeRobot dataset, or download it first (kuavo download REPO_ID)",
        )
    return root


def resolve_dataset(ref: CheckpointRef, dataset_arg: str | None) -> DatasetChoice:
    split = ref.split() or {}
    train_cfg = (lerobot_train_config(ref) or {}).get("dataset") or {}
    trained_root = split.get("dataset_root") or train_cfg.get("root")
    trained_repo = split.get("repo_id") or train_cfg.get("repo_id")
    if trained_root is None and trained_repo:
        trained_root = str(_lerobot_home() / trained_repo)

    if dataset_arg is None:
        if trained_root is None:
            raise UsageError(
                f"{ref.pretrained_dir} does not say which dataset it was trained on",
                "pass --dataset PATH_OR_REPO_ID",
            )
        root = _local_root(Path(trained_root), trained_repo or trained_root)
        return DatasetChoice(root, trained_repo or f"local/{root.name}", True)

    given = Path(dataset_arg).expanduser()
    if given.exists():
        root = _local_root(given, dataset_arg)
        repo_id = trained_repo if _same_path(root, trained_root) and trained_repo else f"local/{root.name}"
    else:
        repo_id = dataset_arg
        root = _local_root(_lerobot_home() / dataset_arg, dataset_arg)
    trained_roots = [trained_root] + [src.get("dataset_root") for src in split.get("sources") or []]
    return DatasetChoice(root, repo_id, any(_same_path(root, r) for r in trained_roots))


def _same_path(a: Path, b: str | None) -> bool:
    return b is not None and Path(b).expanduser().resolve() == a.resolve()


def split_for(ref: CheckpointRef, root: Path) -> dict[str, Any] | None:
    """The run's split as it applies to the dataset at `root`. A multi-task run (`datasets:`) records each
    dataset's own train/val episodes under `sources`; the top-level lists number episodes globally."""
    split = ref.split()
    if not split or "sources" not in split:
        return split
    for source in split["sources"]:
        if _same_path(Path(root), source.get("dataset_root")):
            return {**split, **source}
    return {k: v for k, v in split.items() if k not in ("train_episodes", "val_episodes")}


def choose_episodes(
    ref: CheckpointRef, dataset: DatasetChoice, meta: Any, episodes_arg: str | None
) -> EpisodeChoice:
    total = meta.total_episodes
    if episodes_arg is not None:
        eps = parse_episodes(episodes_arg)
        bad = [e for e in eps if e >= total]
        if bad:
            raise UsageError(
                f"--episodes {episodes_arg}: episode(s) {bad} do not exist; {dataset.root} has {total} "
                f"(0..{total - 1})"
            )
        warnings = []
        seen = sorted(set(eps) & _trained_on(ref, meta)) if dataset.is_training_dataset else []
        if seen:
            warnings.append(
                f"episode(s) {seen} were used to train this checkpoint: their scores are optimistic"
            )
        return EpisodeChoice(eps, "--episodes", warnings)

    if dataset.is_training_dataset:
        split = split_for(ref, dataset.root)
        if split and split.get("val_episodes"):
            eps = sorted(int(e) for e in split["val_episodes"])
            return EpisodeChoice(eps, "held-out (split.json)")
        held_out = _lerobot_held_out(ref, meta)
        if held_out:
            return held_out

    every = list(range(total))
    why = (
        "the checkpoint records no held-out split"
        if dataset.is_training_dataset
        else "no split is recorded for this dataset"
    )
    return EpisodeChoice(
        every,
        "all episodes",
        [f"{why}: evaluating all {total} episodes, which may include training episodes (scores optimistic); "
         "pass --episodes to choose held-out ones"],
    )  # fmt: skip


def _trained_on(ref: CheckpointRef, meta: Any) -> set[int]:
    """Episodes the checkpoint saw in training, as far as the run records them (empty when unknown)."""
    split = split_for(ref, meta.root)
    if split and split.get("train_episodes") is not None:
        return {int(e) for e in split["train_episodes"]}
    cfg = (lerobot_train_config(ref) or {}).get("dataset")
    if cfg is None:
        return set()
    base = set(int(e) for e in cfg["episodes"]) if cfg.get("episodes") else set(range(meta.total_episodes))
    held = _lerobot_held_out(ref, meta)
    return base - set(held.episodes) if held else base


def _lerobot_held_out(ref: CheckpointRef, meta: Any) -> EpisodeChoice | None:
    """The episodes plain `lerobot-train` did not train on, rebuilt from its train_config.json."""
    cfg = (lerobot_train_config(ref) or {}).get("dataset") or {}
    base = cfg.get("episodes")
    base = sorted(int(e) for e in base) if base else list(range(meta.total_episodes))
    eval_split = float(cfg.get("eval_split") or 0.0)
    if eval_split > 0:
        # lerobot.datasets.factory.make_train_eval_datasets: the last ceil(n * split) episodes of each task.
        tasks = meta.episodes["tasks"]
        by_task: dict[str, list[int]] = {}
        for ep in base:
            by_task.setdefault(tasks[ep][0] if tasks[ep] else "", []).append(ep)
        held = [e for eps in by_task.values() for e in eps[len(eps) - math.ceil(len(eps) * eval_split) :]]
        return EpisodeChoice(sorted(held), f"held-out (lerobot-train eval_split={eval_split})")
    if cfg.get("episodes"):
        rest = sorted(set(range(meta.total_episodes)) - set(base))
        if rest:
            return EpisodeChoice(rest, "held-out (not in lerobot-train dataset.episodes)")
    return None


def rename_map(preprocessor: Any) -> dict[str, str]:
    """dataset key -> policy key, from the preprocessor's rename step (empty when there is none)."""
    for step in getattr(preprocessor, "steps", []):
        mapping = getattr(step, "rename_map", None)
        if isinstance(mapping, dict):
            return dict(mapping)
    return {}


def check_features(policy_cfg: Any, meta: Any, renames: dict[str, str], label: str) -> dict[str, str]:
    """Policy feature key -> dataset key; raise a one-line UsageError naming the first mismatch."""
    from lerobot.utils.feature_utils import dataset_to_policy_features

    ds_feats = dataset_to_policy_features(meta.features)
    by_policy_key = {renames.get(k, k): k for k in ds_feats}
    wanted = {**policy_cfg.input_features, **policy_cfg.output_features}
    mapping: dict[str, str] = {}
    for key, feat in wanted.items():
        ds_key = by_policy_key.get(key)
        if ds_key is None:
            have = ", ".join(sorted(k for k in ds_feats if k.startswith("observation")))
            raise UsageError(
                f"checkpoint needs feature {key} but dataset {label} has none (it has: {have})",
                "evaluate on the dataset the checkpoint was trained on, or one with the same features",
            )
        want_shape, have_shape = tuple(feat.shape), tuple(ds_feats[ds_key].shape)
        if want_shape != have_shape:
            raise UsageError(
                f"feature mismatch: checkpoint expects {key} of shape {want_shape}, "
                f"dataset {label} has {have_shape}",
                "evaluate on a dataset recorded with the same robot setup (state/action size, camera size)",
            )
        mapping[key] = ds_key
    return mapping
