"""Record scripted-expert episodes in the stand-in as a LeRobot v3.0 dataset with the exact Kuavo schema.

Same writer and conventions as `kuavo_cli.data.synthetic` (10 fps, robot_type kuavo4pro, 16-D state and
action with the Kuavo names, three cameras as video); each frame holds the observation the policy saw
and the action the expert commanded at that tick, as the official converter pairs them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kuavo_cli.data.schema import ACTION_KEY, CAMERA_KEYS, FPS, ROBOT_TYPE, STATE_KEY, kuavo_features
from kuavo_cli.data.synthetic import publish_written_dataset
from kuavo_cli.errors import KuavoError, UsageError
from kuavo_cli.utils.logs import quiet_logs

DEFAULT_REPO_ID = "kuavo/standin"


def record_expert_dataset(
    root: Path,
    num_episodes: int = 10,
    seed: int = 0,
    image_size: tuple[int, int] = (48, 64),
    repo_id: str = DEFAULT_REPO_ID,
    overwrite: bool = False,
    vcodec: str = "libsvtav1",
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Episodes use seeds seed..seed+N-1; written to a temp folder beside `root`, then renamed."""
    from kuavo_cli.sim.agents import ExpertAgent
    from kuavo_cli.sim.runner import EpisodeOptions, make_scene, run_episode

    if num_episodes < 1:
        raise UsageError(f"--episodes must be >= 1 (got {num_episodes})")
    root = Path(root)
    if root.exists() and not overwrite:
        raise UsageError(f"{root} already exists", "pass --force to replace it")
    scene = make_scene("standin")
    agent = ExpertAgent("standin", {key: image_size for key in CAMERA_KEYS})
    root.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SVT_LOG", "1")
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    target = staging / "dataset"
    scores: list[float] = []
    try:
        from kuavo_cli.evaluate.api import no_datasets_progress

        with quiet_logs(), no_datasets_progress():
            from lerobot.configs.video import RGBEncoderConfig
            from lerobot.datasets import LeRobotDataset

            dataset = LeRobotDataset.create(
                repo_id=repo_id, fps=FPS, features=kuavo_features(image_size, True), root=target,
                robot_type=ROBOT_TYPE, use_videos=True, rgb_encoder=RGBEncoderConfig(vcodec=vcodec),
            )  # fmt: skip

            def add(obs: dict, action: np.ndarray) -> None:
                frame = {STATE_KEY: obs[STATE_KEY], ACTION_KEY: action, "task": scene.task.instruction}
                frame.update({key: obs[key] for key in CAMERA_KEYS})
                dataset.add_frame(frame)

            for i in range(num_episodes):
                record = run_episode(scene, agent, seed + i, EpisodeOptions(latency_s=0.0), on_step=add)
                if record.error or not record.success:
                    raise KuavoError(
                        f"the scripted expert failed on seed {seed + i}: {record.error or 'task not solved'}"
                    )
                dataset.save_episode(parallel_encoding=False)
                scores.append(record.score)
                if progress:
                    progress(i + 1, num_episodes)
            dataset.finalize()
        publish_written_dataset(target, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"root": str(root), "episodes": num_episodes, "seeds": [seed, seed + num_episodes - 1],
            "expert_mean_score": float(np.mean(scores)), "image_size": list(image_size)}  # fmt: skip
