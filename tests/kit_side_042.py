"""Runs INSIDE the kit's environment (Python 3.10, lerobot 0.4.2), started by tests/test_kit_lerobot042.py.

    python kit_side_042.py fields
    python kit_side_042.py load RUN_DIR EPOCH_DIR INPUTS.safetensors OUTPUTS.safetensors
    python kit_side_042.py load-diffusion RUN_DIR EPOCH_DIR INPUTS OUTPUTS SEED [--controls] [--kit KIT_PATHS]

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

`load-diffusion` does the same for a `kit_diffusion` export through kuavo's stand-in for the kit's Diffusion
wrapper (kuavo_cli/export/kit_diffusion_standin.py), after torch.manual_seed(SEED): the kit's deploy seeds
torch's global generator (lerobot's set_seed) and its sampling draws all noise from it. --controls also runs the negative controls.
--kit KIT_PATHS (developer check, not CI): a colon-separated list put first on sys.path, a checkout of the kit's
icra branch and a folder with its extra dependencies; the kit's REAL wrapper is then loaded, not the stand-in.
"""
# ruff: noqa: E402  (the kit's patch, when asked for, must be imported before lerobot)

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

KIT_PATHS = sys.argv[sys.argv.index("--kit") + 1] if "--kit" in sys.argv else None
# The kit's feature-type patch replaces lerobot's enum, so it must come before any lerobot import.
if KIT_PATHS:
    sys.path[:0] = KIT_PATHS.split(":")
    from lerobot_patches import custom_patches  # noqa: F401

import torch
from lerobot.configs.policies import PreTrainedConfig
from lerobot.policies.act.configuration_act import ACTConfig
from lerobot.policies.act.modeling_act import ACTPolicy
from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
from safetensors.torch import load_file, save_file

# kuavo's stand-in for the kit's Diffusion wrapper (the same one `kuavo export --check` uses)
DIFFUSION_STANDIN = Path(__file__).resolve().parents[1] / "kuavo_cli" / "export" / "kit_diffusion_standin.py"


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


def negative_controls(
    epoch_dir: Path, load: Any = None, unknown: str = "use_peft", conflicting: str = "dim_model"
) -> dict[str, str]:
    """The same loader must refuse what the kit refuses, or passing the checks above would prove nothing."""
    load = load or load_policy
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        bad = Path(tmp) / "epoch"
        shutil.copytree(epoch_dir, bad)
        cfg = json.loads((epoch_dir / "config.json").read_text())
        (bad / "config.json").write_text(json.dumps({**cfg, unknown: None}))
        out["unknown_field"] = error_of(lambda: load(bad))
        custom = {**cfg.get("custom", {}), conflicting: cfg.get(conflicting, 8)}
        (bad / "config.json").write_text(json.dumps({**cfg, "custom": custom}))
        out["conflicting_custom"] = error_of(lambda: load(bad))
        (bad / "config.json").write_text(json.dumps(cfg))
        weights = load_file(str(epoch_dir / "model.safetensors"))
        save_file({**weights, "model.extra": torch.zeros(1)}, str(bad / "model.safetensors"))
        out["extra_weight"] = error_of(lambda: load(bad))
        first = sorted(weights)[0]
        save_file({k: v for k, v in weights.items() if k != first}, str(bad / "model.safetensors"))
        out["missing_weight"] = error_of(lambda: load(bad))
    return out


def diffusion_loader(kit_paths: str | None) -> tuple[Any, str]:
    """(load(epoch_dir) -> policy, which classes): the stand-in, or the kit's real wrapper from KIT_PATHS."""
    if kit_paths:  # on sys.path, with the kit's feature-type patch applied, since the top of this file
        from kuavo_train.wrapper.policy.diffusion.DiffusionPolicyWrapper import CustomDiffusionPolicyWrapper

        def load_real(epoch_dir: Path) -> Any:
            with contextlib.redirect_stdout(io.StringIO()):  # the kit prints while loading
                return CustomDiffusionPolicyWrapper.from_pretrained(epoch_dir, strict=True)

        return load_real, "kit"
    return import_file(DIFFUSION_STANDIN).load, "stand-in"


def import_file(path: Path) -> Any:
    """A module from its file (kuavo's stand-in, without importing the kuavo_cli package on Python 3.10)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def read_observations(inputs: Path) -> list[dict[str, torch.Tensor]]:
    data = load_file(str(inputs))
    steps = sorted({int(k.split("/")[0]) for k in data})
    return [{k.split("/", 1)[1]: v for k, v in data.items() if k.startswith(f"{i}/")} for i in steps]


def kit_processors(run_dir: Path) -> tuple[Any, Any]:
    """Exactly the kit's call; on a machine without CUDA the processors' cuda device step is pointed at cpu."""
    from lerobot.policies.factory import make_pre_post_processors

    overrides = {} if torch.cuda.is_available() else {"device_processor": {"device": "cpu"}}
    return make_pre_post_processors(
        None, str(run_dir), preprocessor_overrides=overrides, postprocessor_overrides=overrides
    )


def cmd_load_diffusion(
    run_dir: Path, epoch_dir: Path, inputs: Path, outputs: Path, seed: str, controls: bool
) -> dict[str, Any]:
    load, classes = diffusion_loader(KIT_PATHS)
    policy = load(epoch_dir)
    policy.eval()
    pre, post = kit_processors(run_dir)
    result = {}
    policy.reset()
    torch.manual_seed(int(seed))
    with torch.inference_mode():
        for i, obs in enumerate(read_observations(inputs)):
            result[f"select_action/{i}"] = post(policy.select_action(pre(dict(obs)))).cpu().contiguous()
    save_file(result, str(outputs))
    import lerobot

    cfg = policy.config
    return {
        "lerobot": lerobot.__version__,
        "python": "{}.{}".format(*sys.version_info[:2]),
        "classes": classes,
        "policy_class": type(policy).__name__,
        "config_class": type(cfg).__name__,
        "custom": {k: getattr(cfg, k) for k in cfg.custom},
        "weights": len(policy.state_dict()),
        "refused": negative_controls(epoch_dir, load, unknown="resize_shape", conflicting="crop_shape")
        if controls
        else {},
    }


def cmd_load(run_dir: Path, epoch_dir: Path, inputs: Path, outputs: Path) -> dict[str, Any]:
    policy = load_policy(epoch_dir)
    policy.eval()
    device = policy.config.device  # config.json says cuda; lerobot falls back to cpu when there is none
    pre, post = kit_processors(run_dir)
    observations = read_observations(inputs)
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
        "processor_overrides": {} if torch.cuda.is_available() else {"device_processor": {"device": "cpu"}},
        "refused": negative_controls(epoch_dir),
    }


def main() -> None:
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "fields":
        summary = cmd_fields()
    elif cmd == "load":
        summary = cmd_load(*(Path(a) for a in args[:4]))
    else:
        summary = cmd_load_diffusion(*(Path(a) for a in args[:4]), args[4], "--controls" in args)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
