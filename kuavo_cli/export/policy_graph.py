"""One traceable module for graph exports (ONNX, TorchScript): lerobot's normaliser + policy + unnormaliser.

Inputs are the raw dataset features, batched (`observation.state` (B, D) float32, `observation.images.<cam>`
(B, 3, H, W) float32 RGB in [0, 1]); the output is the unnormalised action chunk (B, chunk_size, action_dim),
exactly what `postprocessor(policy.predict_action_chunk(preprocessor(obs)))` returns. The statistics come
from the checkpoint's own processor files (lerobot's NormalizerProcessorStep), baked into the graph.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kuavo_cli.checkpoints import CheckpointRef, load_policy
from kuavo_cli.errors import KuavoError, UsageError

GRAPH_POLICY_TYPES = ("act",)
# Processor steps that are identity for batched float32 CPU tensors; anything else cannot be folded in.
_PRE_PASSTHROUGH = {"rename_observations_processor", "to_batch_processor", "device_processor"}
_POST_PASSTHROUGH = {"device_processor"}
DEFAULT_ATOL = 1e-4


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: tuple[int, ...]  # without the batch dimension

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3


def check_graph_policy(kind: str, fmt: str) -> None:
    if kind == "diffusion":
        raise UsageError(
            f"{fmt} export of diffusion policies is not supported: its denoising loop samples random noise "
            "over many scheduler steps and does not trace to one fixed graph",
            "export diffusion with --format lerobot or --format kit",
        )
    if kind not in GRAPH_POLICY_TYPES:
        raise UsageError(
            f"{fmt} export supports {', '.join(GRAPH_POLICY_TYPES)} policies, not `{kind}`",
            "use --format lerobot for this policy",
        )


def build_module(ref: CheckpointRef) -> tuple[Any, list[InputSpec], Any]:
    """(torch module, input specs in graph order, policy config)."""
    import torch

    policy, cfg, pre, post = load_policy(ref, device="cpu")
    norm = _single_step(pre, "normalizer_processor", _PRE_PASSTHROUGH)
    unnorm = _single_step(post, "unnormalizer_processor", _POST_PASSTHROUGH)
    for step in pre.steps:
        if getattr(step, "rename_map", None):
            raise UsageError(
                "the checkpoint renames observations in its preprocessor; graph export needs none"
            )
    specs = [InputSpec(name, tuple(ft.shape)) for name, ft in cfg.input_features.items()]
    names = [s.name for s in specs]

    class NormalizedPolicy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.policy = policy

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            obs = norm._normalize_observation(dict(zip(names, inputs, strict=True)), inverse=False)
            chunk = self.policy.predict_action_chunk(obs)
            return unnorm._normalize_action(chunk, inverse=True)

    return NormalizedPolicy().eval(), specs, cfg


def _single_step(pipeline: Any, wanted: str, passthrough: set[str]) -> Any:
    found = None
    for step in pipeline.steps:
        # lerobot's ProcessorStepRegistry.register stamps the class with its registry name
        name = getattr(type(step), "_registry_name", type(step).__name__)
        if name == wanted:
            found = step
        elif name not in passthrough:
            raise UsageError(
                f"the checkpoint's processor has a `{name}` step that graph export cannot fold in"
            )
    if found is None:
        raise UsageError(f"the checkpoint's processor has no `{wanted}` step")
    return found


def example_inputs(specs: list[InputSpec], batch: int = 1, seed: int = 0) -> tuple[Any, ...]:
    """Deterministic inputs in the ranges the robot produces (images in [0, 1], joint angles ~ N(0, 1))."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    return tuple(
        torch.rand(batch, *s.shape, generator=gen)
        if s.is_image
        else torch.randn(batch, *s.shape, generator=gen)
        for s in specs
    )


def reference_outputs(module: Any, inputs: tuple[Any, ...]) -> Any:
    import torch

    with torch.no_grad():
        return module(*inputs).numpy()


def max_abs_diff(a: Any, b: Any) -> float:
    import numpy as np

    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a.astype("float64") - b.astype("float64"))))


def check_parity(diff: float, atol: float, what: str) -> None:
    if not diff < atol:
        raise KuavoError(
            f"{what} does not match PyTorch: max abs difference {diff:.3g} >= {atol:g}; nothing was kept",
            "report this with the checkpoint; the exported graph is not faithful",
        )


def latency_ms(fn: Callable[[], Any], warmup: int = 2, runs: int = 5) -> float:
    """Median wall time of one call, batch 1, on this machine's CPU."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 3)


def torch_latency(module: Any, inputs: tuple[Any, ...]) -> float:
    import torch

    def run() -> None:
        with torch.no_grad():
            module(*inputs)

    return latency_ms(run)


def io_description(specs: list[InputSpec], cfg: Any) -> dict[str, Any]:
    action = cfg.output_features.get("action")
    return {
        "inputs": {
            s.name: {
                "shape": ["batch", *s.shape],
                "dtype": "float32",
                "meaning": "RGB image, channels first, values in [0, 1]"
                if s.is_image
                else "raw (unnormalised)",
            }
            for s in specs
        },
        "outputs": {
            "action": {
                "shape": ["batch", cfg.chunk_size, *(action.shape if action else [])],
                "dtype": "float32",
                "meaning": f"unnormalised action chunk; execute the first {cfg.n_action_steps} steps",
            }
        },
        "normalisation": "in the graph (statistics from the checkpoint's policy_preprocessor/postprocessor)",
    }
