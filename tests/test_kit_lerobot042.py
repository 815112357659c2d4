"""Kit exports against the kit's real library: lerobot 0.4.2 on Python 3.10, in its own environment.

kuavo trains with lerobot 0.6.1; the competition kit deploys with lerobot 0.4.2 and its own policy wrappers. These
tests export a policy kuavo trained, load the export in a separate Python 3.10 process with lerobot 0.4.2
(tests/kit_side_042.py), and compare the actions with kuavo's in-process ones on the same inputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from kuavo_cli.checkpoints import load_policy, resolve_checkpoint
from kuavo_cli.export import kit_contract
from tests.cli_helpers import run_cli
from tests.kit_env import run_kit_script
from tests.train_fixtures import TINY_ACT

KIT_SIDE = Path(__file__).with_name("kit_side_042.py")
ATOL = 1e-5


def observations(n: int) -> list[dict[str, torch.Tensor]]:
    """Batched observations as the kit's environment hands them to the preprocessor."""
    gen = torch.Generator().manual_seed(3)
    out = []
    for _ in range(n):
        obs = {"observation.state": torch.randn(1, 16, generator=gen)}
        for cam in ("head_cam_h", "wrist_cam_l", "wrist_cam_r"):
            obs[f"observation.images.{cam}"] = torch.rand(1, 3, 48, 64, generator=gen)
        out.append(obs)
    return out


def kuavo_actions(run: Path, obs: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The same calls in-process, through kuavo's loader on lerobot 0.6.1."""
    policy, _cfg, pre, post = load_policy(resolve_checkpoint(run), device="cpu")
    out = {}
    policy.reset()
    with torch.no_grad():
        for i, o in enumerate(obs):
            out[f"select_action/{i}"] = post(policy.select_action(pre(dict(o))))
        out["chunk"] = post(policy.predict_action_chunk(pre(dict(obs[0]))))
    return out


def test_contract_matches_the_real_lerobot_042(kit_python: Path) -> None:
    real = run_kit_script(kit_python, KIT_SIDE, "fields")
    assert (real["lerobot"], real["python"]) == (kit_contract.KIT_LEROBOT_VERSION, "3.10")
    assert real["base"] == list(kit_contract.BASE_CONFIG_FIELDS)
    for kind, fields in kit_contract.POLICY_CONFIG_FIELDS.items():
        assert real[kind] == list(fields), kind
    for step, fields in kit_contract.PROCESSOR_STEP_FIELDS.items():
        assert real["steps"][step] == list(fields), step
    # every field dropped for the kit is one that 0.4.2 really lacks and that lerobot 0.6.1 really writes
    import dataclasses

    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig

    newer = {f.name for cls in (ACTConfig, DiffusionConfig) for f in dataclasses.fields(cls)}
    known_042 = set(real["base"]) | set(real["act"]) | set(real["diffusion"])
    assert set(kit_contract.DROPPABLE_FIELDS) <= newer - known_042


def test_act_kit_export_loads_in_lerobot_042_with_kuavos_actions(
    kit_python: Path, kuavo_act_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "kit"
    res = run_cli("export", str(kuavo_act_run), "--format", "kit", "--task", "1", "--out", str(out), "--json")
    assert res.exit_code == 0, res.stderr
    kit = json.loads(res.stdout)["kit"]
    assert kit["device"] == "cuda"  # the default: what the graders run on
    run_dir = out / "outputs" / "train" / "task1" / "act" / kit["timestamp"]
    epoch_dir = run_dir / f"epoch{kit['epoch']}"
    config = json.loads((epoch_dir / "config.json").read_text())
    assert config["device"] == "cuda" and config["type"] == "custom_act"

    obs = observations(3)
    save_file(
        {f"{i}/{k}": v for i, o in enumerate(obs) for k, v in o.items()}, str(tmp_path / "in.safetensors")
    )
    summary = run_kit_script(
        kit_python, KIT_SIDE, "load", str(run_dir), str(epoch_dir), str(tmp_path / "in.safetensors"),
        str(tmp_path / "out.safetensors"),
    )  # fmt: skip
    assert summary["lerobot"] == "0.4.2" and summary["python"] == "3.10"
    assert summary["config_class"] == "StandInKitACTConfig" and summary["use_depth"] is False
    # what the kit's loader refuses, this one refuses too (so the load above is a real check)
    refused = summary["refused"]
    assert "use_peft" in refused["unknown_field"], refused
    assert "conflicts" in refused["conflicting_custom"], refused
    assert "model.extra" in refused["extra_weight"], refused

    theirs = load_file(str(tmp_path / "out.safetensors"))
    ours = kuavo_actions(kuavo_act_run, obs)
    assert set(theirs) == set(ours)
    for key, value in ours.items():
        assert theirs[key].shape == value.shape, key
        diff = (theirs[key] - value).abs().max().item()
        assert diff <= ATOL, f"{key}: max abs diff {diff:.2e} > {ATOL}"
    assert ours["select_action/0"].shape == (1, 16) and ours["chunk"].shape == (1, TINY_ACT["chunk_size"], 16)


def test_fields_the_kit_cannot_run_are_refused_not_dropped(kuavo_act_run: Path, tmp_path: Path) -> None:
    """Dropping a field is only safe at the value that changes nothing; anything else exits 2, writes nothing."""
    import shutil

    for extra, message in (
        ({"use_peft": True}, "use_peft=True, which lerobot 0.4.2 (the kit's) cannot run"),
        ({"rope_theta": 10000.0}, "field `rope_theta` is unknown to lerobot 0.4.2"),
    ):
        run = tmp_path / f"run-{next(iter(extra))}"
        shutil.copytree(kuavo_act_run, run, symlinks=True)
        config_path = resolve_checkpoint(run).pretrained_dir / "config.json"  # the one export picks
        config_path.write_text(json.dumps({**json.loads(config_path.read_text()), **extra}))
        out = tmp_path / f"out-{next(iter(extra))}"
        res = run_cli("export", str(run), "--format", "kit", "--task", "1", "--out", str(out))
        assert res.exit_code == 2 and message in res.stderr and "--client" in res.stderr, res.stderr
        assert not out.exists()
