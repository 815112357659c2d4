"""Replay recorded episodes through a policy exactly as the robot loop would run it.

Per episode: `policy.reset()` and the processors' `reset()`, then for every frame the observation the robot
would have seen (state, camera images as the dataset decodes them, task string, robot type) goes through
lerobot's preprocessor -> `policy.select_action` -> postprocessor, the same call sequence as lerobot's own
synchronous inference engine (`lerobot.rollout.inference.sync`). The policy's own action queue / temporal
ensembler decides when the network runs; we only count those runs to know each action's chunk position.
The recorded action never enters the observation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kuavo_cli.evaluate.metrics import EpisodeResult


@dataclass
class ReplayResult:
    episodes: list[EpisodeResult]
    tick_ms: list[float] = field(default_factory=list)  # wall time of each pre -> select_action -> post
    ran_model: list[bool] = field(default_factory=list)  # whether that tick ran the network
    chunk_tracking: bool = True  # False when the policy never calls predict_action_chunk


class ChunkCounter:
    """Counts the policy's `predict_action_chunk` calls (ACT, Diffusion, pi0, SmolVLA... all go through it)."""

    def __init__(self, policy: Any):
        self.calls = 0
        self._policy = policy
        self._original = getattr(policy, "predict_action_chunk", None)
        if self._original is not None:
            original = self._original

            def counted(*args: Any, **kwargs: Any) -> Any:
                self.calls += 1
                return original(*args, **kwargs)

            policy.predict_action_chunk = counted  # instance attribute: select_action looks it up on self

    def restore(self) -> None:
        if self._original is not None:
            del self._policy.predict_action_chunk


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def replay(
    policy: Any,
    policy_cfg: Any,
    preprocessor: Any,
    postprocessor: Any,
    dataset: Any,
    feature_map: dict[str, str],
    device: str,
    seed: int = 0,
    on_frame: Callable[[], None] | None = None,
) -> ReplayResult:
    """Run every frame of `dataset` (a LeRobotDataset restricted to the chosen episodes) through the policy.

    `feature_map` maps policy input keys to dataset keys; the dataset keys are what we feed, since the
    preprocessor's own rename step (if any) maps them, as it would on the robot.
    """
    import torch

    obs_keys = [feature_map[k] for k in policy_cfg.input_features]
    action_key = feature_map[next(iter(policy_cfg.output_features))]
    robot_type = dataset.meta.robot_type or ""
    use_amp = device.startswith("cuda") and bool(getattr(policy_cfg, "use_amp", False))
    counter = ChunkCounter(policy)
    result = ReplayResult(episodes=[])
    current: int | None = None
    preds: list[np.ndarray] = []
    recs: list[np.ndarray] = []
    pos: list[int] = []
    since_chunk = -1

    def close_episode() -> None:
        if current is not None and preds:
            result.episodes.append(
                EpisodeResult(current, np.stack(preds), np.stack(recs), np.asarray(pos, dtype=int))
            )

    try:
        for i in range(len(dataset)):
            item = dataset[i]
            episode = int(item["episode_index"])
            if episode != current:
                close_episode()
                current, preds, recs, pos, since_chunk = episode, [], [], [], -1
                torch.manual_seed(seed + episode)  # diffusion noise: same numbers whatever the episode order
                policy.reset()
                preprocessor.reset()
                postprocessor.reset()
            obs = {key: item[key].unsqueeze(0) for key in obs_keys}
            obs["task"] = item.get("task", "")
            obs["robot_type"] = robot_type
            calls_before = counter.calls
            amp = torch.autocast(device_type="cuda") if use_amp else nullcontext()
            _sync(device)
            start = time.perf_counter()
            with torch.inference_mode(), amp:
                action = postprocessor(policy.select_action(preprocessor(obs)))
            _sync(device)
            result.tick_ms.append((time.perf_counter() - start) * 1000.0)
            ran = counter.calls > calls_before
            result.ran_model.append(ran)
            since_chunk = 0 if ran else (since_chunk + 1 if since_chunk >= 0 else -1)
            pos.append(since_chunk)
            preds.append(action.reshape(-1).float().cpu().numpy())
            recs.append(item[action_key].reshape(-1).float().cpu().numpy())
            if on_frame:
                on_frame()
        close_episode()
    finally:
        counter.restore()
    result.chunk_tracking = counter.calls > 0
    return result
