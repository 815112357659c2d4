"""What acts in the sim: a lerobot checkpoint (through its own processors), the scripted expert, or nobody.

Every agent has `reset(sim, seed)` and `act(obs) -> 16-D action`; `obs` holds `observation.state` (16,
float32) and `observation.images.<camera>` (HxWx3 uint8) exactly as the dataset stores them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from kuavo_cli.data.schema import ACTION_KEY, CAMERA_KEYS, ROBOT_TYPE, STATE_KEY
from kuavo_cli.errors import KuavoError, UsageError

SIM_FEATURES = {STATE_KEY: (16,), ACTION_KEY: (16,)}  # plus each camera key with (3, H, W), any H x W


@dataclass(frozen=True)
class PolicyNeeds:
    """What a checkpoint asks of the scene: which cameras at which size; the feature -> sim key map."""

    cameras: dict[str, tuple[int, int]]  # dataset camera key -> (H, W)
    feature_map: dict[str, str]  # policy key -> sim/dataset key


def policy_needs(policy_cfg: Any, renames: dict[str, str], label: str) -> PolicyNeeds:
    """Refuse (one line, naming the feature) a checkpoint whose features the sim cannot provide."""
    by_policy_key = {renames.get(k, k): k for k in (*SIM_FEATURES, *CAMERA_KEYS)}
    cameras: dict[str, tuple[int, int]] = {}
    mapping: dict[str, str] = {}
    wanted = {**policy_cfg.input_features, **policy_cfg.output_features}
    for key, feat in wanted.items():
        sim_key = by_policy_key.get(key)
        shape = tuple(feat.shape)
        if sim_key is None:
            raise UsageError(
                f"{label}: the checkpoint needs feature {key}, which the simulation does not provide "
                f"(it provides {STATE_KEY}, {ACTION_KEY} and {', '.join(CAMERA_KEYS)})",
                "evaluate checkpoints trained on Kuavo data (state, action and the three RGB cameras)",
            )
        if sim_key in SIM_FEATURES and shape != SIM_FEATURES[sim_key]:
            raise UsageError(
                f"{label}: the checkpoint expects {key} of shape {shape}; the simulation gives "
                f"{SIM_FEATURES[sim_key]} (both arms, 7 joints + gripper each)",
                "use a checkpoint trained on 16-D Kuavo state/action",
            )
        if sim_key in CAMERA_KEYS:
            if len(shape) != 3 or shape[0] != 3:
                raise UsageError(
                    f"{label}: camera feature {key} has shape {shape}; the sim renders RGB (3, H, W)"
                )
            cameras[sim_key] = (int(shape[1]), int(shape[2]))
        mapping[key] = sim_key
    return PolicyNeeds(cameras, mapping)


class PolicyAgent:
    """A lerobot policy: preprocessor -> select_action -> postprocessor, the order lerobot's own loop uses.

    The policy's action queue / temporal ensembling decides when the network runs; chunks are consumed
    exactly as the policy emits them.
    """

    def __init__(
        self, policy: Any, cfg: Any, pre: Any, post: Any, needs: PolicyNeeds, device: str, task: str
    ):
        self.policy, self.cfg, self.pre, self.post = policy, cfg, pre, post
        self.needs, self.device, self.task = needs, device, task

    @classmethod
    def load(cls, checkpoint: str | Path, device: str, task: str) -> PolicyAgent:
        from kuavo_cli.checkpoints import load_policy, resolve_checkpoint
        from kuavo_cli.evaluate.sources import rename_map

        ref = resolve_checkpoint(checkpoint)
        policy, cfg, pre, post = load_policy(ref, device=device)
        needs = policy_needs(cfg, rename_map(pre), str(checkpoint))
        return cls(policy, cfg, pre, post, needs, device, task)

    def reset(self, sim: Any, seed: int) -> None:
        import torch

        torch.manual_seed(seed)  # sampling policies (Diffusion) draw the same noise for the same seed
        self.policy.reset()
        self.pre.reset()
        self.post.reset()

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        batch = observation_batch(obs, self.needs, self.task)
        with torch.inference_mode():
            action = self.post(self.policy.select_action(self.pre(batch)))
        return action.reshape(-1).float().cpu().numpy()


def observation_batch(obs: dict[str, np.ndarray], needs: PolicyNeeds, task: str) -> dict[str, Any]:
    """The observation as lerobot's loop hands it to a policy: batched tensors, images 1x3xHxW in [0, 1]."""
    import torch

    batch: dict[str, Any] = {}
    for sim_key in needs.feature_map.values():
        if sim_key == ACTION_KEY:
            continue
        value = obs[sim_key]
        if sim_key in CAMERA_KEYS:  # HWC uint8 -> 1x3xHxW float in [0, 1], as the dataset decodes it
            tensor = torch.from_numpy(np.ascontiguousarray(value)).permute(2, 0, 1).float() / 255.0
        else:
            tensor = torch.from_numpy(np.asarray(value, dtype=np.float32))
        batch[sim_key] = tensor.unsqueeze(0)
    batch["task"] = task
    batch["robot_type"] = ROBOT_TYPE
    return batch


class ServedAgent:
    """A policy behind `kuavo serve` (ZeroMQ REQ/REP), source `tcp://host:port`: a CPU box can evaluate a
    GPU-served policy. The server runs the checkpoint's own processors; raw observations travel."""

    def __init__(self, url: str, task: str, startup_timeout_s: float = 60.0):
        match = re.fullmatch(r"tcp://([^:/]+):(\d+)", url)
        if match is None:
            raise UsageError(
                f"{url!r} is not a kuavo serve address", "use tcp://HOST:PORT, e.g. tcp://127.0.0.1:5555"
            )
        try:
            from kuavo_cli.serve.dropin_client import PolicyClient
        except ImportError as err:
            raise UsageError(
                f"{url}: the kuavo serve client is not available ({err})", "update kuavo"
            ) from err
        try:
            self.client = PolicyClient(
                match.group(1), int(match.group(2)), startup_timeout_s=startup_timeout_s
            )
        except Exception as err:
            raise KuavoError(f"{url}: no kuavo serve answering: {err}") from err
        info = self.client.info
        self.cfg = SimpleNamespace(
            type=info.get("config", {}).get("type", "served"),
            input_features={k: SimpleNamespace(shape=tuple(v)) for k, v in info.get("input_features", {}).items()},
            output_features={k: SimpleNamespace(shape=tuple(v)) for k, v in info.get("output_features", {}).items()},
        )  # fmt: skip
        self.needs = policy_needs(self.cfg, {}, url)
        self.task = task

    def reset(self, sim: Any, seed: int) -> None:
        self.client.reset()

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        batch = observation_batch(obs, self.needs, self.task)
        batch.pop("robot_type")
        return self.client.select_action(batch).reshape(-1).float().cpu().numpy()


class HoldStillAgent:
    """Commands the current joint positions and grips: the robot stays where it starts."""

    needs = PolicyNeeds({}, {})

    def reset(self, sim: Any, seed: int) -> None:
        self._hold: np.ndarray | None = None

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        if self._hold is None:
            self._hold = np.asarray(obs[STATE_KEY], dtype=np.float32).copy()
        return self._hold


class ExpertAgent:
    """The scene's scripted expert (privileged: it reads the spawn positions)."""

    def __init__(self, scene_name: str, cameras: dict[str, tuple[int, int]] | None = None):
        if scene_name != "standin":
            raise UsageError(f"no scripted expert for scene {scene_name!r}", "use --sim standin")
        self.needs = PolicyNeeds(dict(cameras or {}), {})

    def reset(self, sim: Any, seed: int) -> None:
        from kuavo_cli.sim.expert import PickCubeExpert

        self._expert = PickCubeExpert()
        self._expert.reset(sim, seed)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return self._expert.act(obs)
