"""Per-rank random streams: each process draws its own dropout masks, diffusion noise and timesteps, and a
resumed run gives every rank back its own generator state.

Seeding follows accelerate's `set_seed(seed, device_specific=True)`: rank r starts from `seed + r`, so rank 0
draws exactly what a single-process `lerobot-train --seed=seed` run draws. Model weights stay identical on
every rank anyway: DDP broadcasts rank 0's parameters and buffers when the model is prepared.

On disk, rank 0's state is lerobot's own `training_state/rng_state.safetensors`; rank r >= 1 adds
`training_state/rng_state_rank<r>.safetensors` (same format).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kuavo_cli.checkpoints import TRAINING_STATE_DIR


def seed_all_ranks(seed: int) -> None:
    from accelerate.utils import set_seed

    set_seed(seed, device_specific=True)


def rank_state_file(training_state_dir: Path, rank: int) -> Path:
    return training_state_dir / f"rng_state_rank{rank}.safetensors"


def gather_states(accelerator: Any) -> list[dict[str, Any]] | None:
    """Collective: every rank's RNG state, on the main process (None elsewhere)."""
    from lerobot.utils.random_utils import serialize_rng_state

    state = serialize_rng_state()
    if accelerator.num_processes == 1:
        return [state]
    from accelerate.utils import gather_object

    states = gather_object([{k: v.cpu() for k, v in state.items()}])
    return states if accelerator.is_main_process else None


def write_states(training_state_dir: Path, states: list[dict[str, Any]]) -> None:
    """Ranks >= 1 next to lerobot's rank-0 file (written by lerobot's save_checkpoint)."""
    from lerobot.utils.utils import flatten_dict
    from safetensors.torch import save_file

    for rank, state in enumerate(states):
        if rank > 0:
            save_file(flatten_dict(state), rank_state_file(training_state_dir, rank))


def restore_own_state(step_dir: Path, rank: int) -> None:
    """After lerobot's load_training_state (which restores rank 0's state everywhere): this rank's own."""
    if rank == 0:
        return
    from lerobot.utils.random_utils import deserialize_rng_state
    from lerobot.utils.utils import unflatten_dict
    from safetensors.torch import load_file

    from kuavo_cli.errors import UsageError

    path = rank_state_file(step_dir / TRAINING_STATE_DIR, rank)
    if not path.exists():
        raise UsageError(
            f"{step_dir} has no random state for process {rank} ({path.name})",
            "resume with the process count the checkpoint was written with",
        )
    deserialize_rng_state(unflatten_dict(load_file(path)))


def peek(n: int = 2) -> list[float]:
    """The next `n` uniform draws of this process's torch generator, without consuming them (debug trace:
    ranks that would draw the same dropout masks / noise show equal numbers here)."""
    import torch

    probe = torch.Generator()
    probe.set_state(torch.get_rng_state())
    return torch.rand(n, generator=probe).tolist()
