"""Runs INSIDE the kit's environment (Python 3.10, lerobot 0.4.2), started by tests/test_kit_lerobot042.py.

    python kit_side_042.py fields
    python kit_side_042.py load RUN_DIR EPOCH_DIR INPUTS.safetensors OUTPUTS.safetensors

`fields` prints what lerobot 0.4.2's config classes and processor steps accept. `load` loads a kuavo kit export
the way the kit's deploy code does, through a stand-in for the kit's policy wrapper written from the wrapper's
documented loading rules (no kit code):
  - config.json names a config type registered as a subclass of lerobot's ACTConfig (`custom_act`), read by
    PreTrainedConfig.from_pretrained (draccus: unknown fields are an error);
  - the subclass has a `custom` dict whose keys become config attributes, refusing a key the config already has;
  - the policy reads `config.use_depth`, and the weights load with strict=True;
  - the processors come from make_pre_post_processors(None, RUN_DIR) (the run folder above epoch<N>).
Then it runs select_action on each observation in INPUTS (after a reset) and the full predicted chunk of the
first one, and writes the actions to OUTPUTS. Inputs and outputs are safetensors files (no pickle). The last
stdout line is a JSON summary.
"""

import contextlib
import dataclasses
import io
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from lerobot.configs.policies import PreTrainedConfig
from lerobot.policies.act.configuration_act import ACTConfig
from lerobot.policies.act.modeling_act import ACTPolicy
from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
from safetensors.torch import load_file, save_file


@PreTrainedConfig.register_subclass("custom_act")
@dataclass
class StandInKitACTConfig(ACTConfig):
    custom: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        for key, value in self.custom.items():
            if hasattr(self, key):
                raise ValueError(f"custom setting {key!r} conflicts with the base config")
            setattr(self, key, value)


class StandInKitACTPolicy(ACTPolicy):
    config_class = StandInKitACTConfig
    name = "custom_act"

    def __init__(self, config: StandInKitACTConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        if config.use_depth:  # the kit's wrapper reads it unconditionally (AttributeError when absent)
            raise ValueError("this stand-in covers RGB-only exports")


def init_fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


def cmd_fields() -> dict[str, Any]:
    import lerobot
    import lerobot.policies.factory  # noqa: F401  (registers the processor steps)
    from lerobot.processor import ProcessorStepRegistry

    base = init_fields(PreTrainedConfig)
    steps = {}
    for name in sorted(ProcessorStepRegistry.list()):
        cls = ProcessorStepRegistry.get(name)
        if dataclasses.is_dataclass(cls):
            steps[name] = init_fields(cls)
    return {
        "lerobot": lerobot.__version__,
        "python": "{}.{}".format(*sys.version_info[:2]),
        "base": base,
        "act": [f for f in init_fields(ACTConfig) if f not in base],
        "diffusion": [f for f in init_fields(DiffusionConfig) if f not in base],
        "steps": steps,
    }


def load_policy(epoch_dir: Path) -> StandInKitACTPolicy:
    cfg = PreTrainedConfig.from_pretrained(epoch_dir)
    assert type(cfg) is StandInKitACTConfig, type(cfg)
    with contextlib.redirect_stdout(io.StringIO()):
        return StandInKitACTPolicy.from_pretrained(epoch_dir, config=cfg, strict=True)


def error_of(fn: Any) -> str:
    """The error `fn` raises with its causes (draccus wraps what __post_init__ raised), or ""."""
    try:
        fn()
    except Exception as err:
        chain = []
        cur: BaseException | None = err
        while cur is not None and len(chain) < 5:
            chain.append(f"{type(cur).__name__}: {cur}")
            cur = cur.__cause__ or cur.__context__
        return " <- ".join(chain)
    return ""


def negative_controls(epoch_dir: Path) -> dict[str, str]:
    """The same loader must refuse what the kit refuses, or passing the checks above would prove nothing."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        bad = Path(tmp) / "epoch"
        shutil.copytree(epoch_dir, bad)
        cfg = json.loads((epoch_dir / "config.json").read_text())
        (bad / "config.json").write_text(json.dumps({**cfg, "use_peft": False}))
        out["unknown_field"] = error_of(lambda: load_policy(bad))
        (bad / "config.json").write_text(json.dumps({**cfg, "custom": {"dim_model": 8}}))
        out["conflicting_custom"] = error_of(lambda: load_policy(bad))
        (bad / "config.json").write_text(json.dumps(cfg))
        weights = load_file(str(epoch_dir / "model.safetensors"))
        save_file({**weights, "model.extra": torch.zeros(1)}, str(bad / "model.safetensors"))
        out["extra_weight"] = error_of(lambda: load_policy(bad))
    return out


def cmd_load(run_dir: Path, epoch_dir: Path, inputs: Path, outputs: Path) -> dict[str, Any]:
    from lerobot.policies.factory import make_pre_post_processors

    policy = load_policy(epoch_dir)
    policy.eval()
    device = policy.config.device  # config.json says cuda; lerobot falls back to cpu when there is none
    # exactly the kit's call; on a machine without CUDA the processors' cuda device step is pointed at cpu
    overrides = {} if torch.cuda.is_available() else {"device_processor": {"device": "cpu"}}
    pre, post = make_pre_post_processors(
        None, str(run_dir), preprocessor_overrides=overrides, postprocessor_overrides=overrides
    )
    data = load_file(str(inputs))
    steps = sorted({int(k.split("/")[0]) for k in data})
    observations = [{k.split("/", 1)[1]: v for k, v in data.items() if k.startswith(f"{i}/")} for i in steps]
    result = {}
    policy.reset()
    with torch.inference_mode():
        for i, obs in enumerate(observations):
            result[f"select_action/{i}"] = post(policy.select_action(pre(dict(obs)))).cpu().contiguous()
        result["chunk"] = post(policy.predict_action_chunk(pre(dict(observations[0])))).cpu().contiguous()
    save_file(result, str(outputs))
    import lerobot

    return {
        "lerobot": lerobot.__version__,
        "python": "{}.{}".format(*sys.version_info[:2]),
        "config_class": type(policy.config).__name__,
        "use_depth": policy.config.use_depth,
        "device": str(device),
        "processor_overrides": overrides,
        "refused": negative_controls(epoch_dir),
    }


def main() -> None:
    summary = cmd_fields() if sys.argv[1] == "fields" else cmd_load(*(Path(a) for a in sys.argv[2:6]))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
