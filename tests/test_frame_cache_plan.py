"""`kuavo cache --plan` numbers are the bytes really written; a cache that would not fit is refused before
anything is written; a cache at the policy's resolution gives the model the inputs docs/performance.md
states (within 0.5/255 of lerobot's, after the policy's own resize)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from tests.cli_helpers import run_cli

CAMERAS = (
    "observation.images.head_cam_h",
    "observation.images.wrist_cam_l",
    "observation.images.wrist_cam_r",
)
HALF_STEP = 0.5 / 255 + 1e-6  # the uint8 rounding of a resized frame, plus float32 slack


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _pi05(resolution: tuple[int, int] = (32, 32)):
    from kuavo_cli.config.policy import PolicySection

    return PolicySection.model_validate({"type": "pi05", "image_resolution": list(resolution)}).to_lerobot(
        device="cpu"
    )


def test_plan_bytes_equal_the_bytes_written(synthetic_dataset: Path, tmp_path: Path):
    out = tmp_path / "frames"
    plan = run_cli("cache", str(synthetic_dataset), "--plan", "--policy", "pi05", "--out", str(out), "--json")
    assert plan.exit_code == 0, plan.stderr
    options = {o["name"]: o for o in json.loads(plan.stdout)["options"]}
    assert not out.exists()  # planning writes nothing
    assert options["video"]["bytes"] == 0 and options["policy"]["frame_shape"] == [3, 224, 224]
    assert "--vcodec h264" in options["video"]["note"]  # AV1 videos: the convert-time alternative is named

    native = run_cli("cache", str(synthetic_dataset), "--out", str(out), "--json")
    policy = run_cli("cache", str(synthetic_dataset), "--resolution", "policy", "--policy", "pi05",
                     "--out", str(out), "--json")  # fmt: skip
    assert native.exit_code == 0 and policy.exit_code == 0, native.stderr + policy.stderr
    for name, result in (("native", native), ("policy", policy)):
        built = json.loads(result.stdout)
        assert built["bytes"] == options[name]["bytes"] == _folder_bytes(Path(built["cache"])), name
    assert json.loads(policy.stdout)["frame_shape"] == [3, 224, 224]
    assert len([p for p in out.iterdir() if not p.name.startswith(".")]) == 2  # two resolutions side by side


def test_cache_over_max_disk_is_refused_before_writing(synthetic_dataset: Path, tmp_path: Path):
    out = tmp_path / "frames"
    plan = json.loads(run_cli("cache", str(synthetic_dataset), "--plan", "--out", str(out), "--json").stdout)
    need = next(o["bytes"] for o in plan["options"] if o["name"] == "native")
    refused = run_cli("cache", str(synthetic_dataset), "--out", str(out), "--max-disk", str(need - 1))
    assert refused.exit_code == 2 and "more than --max-disk" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr and not out.exists()
    planned = json.loads(
        run_cli(
            "cache",
            str(synthetic_dataset),
            "--plan",
            "--out",
            str(out),
            "--max-disk",
            str(need - 1),
            "--json",
        ).stdout  # fmt: skip
    )
    assert [o["fits"] for o in planned["options"]] == [True, False] and planned["recommended"] == "video"
    exact = run_cli("cache", str(synthetic_dataset), "--out", str(out), "--max-disk", str(need), "--json")
    assert exact.exit_code == 0 and json.loads(exact.stdout)["bytes"] == need
    bad = run_cli("cache", str(synthetic_dataset), "--max-disk", "lots")
    assert bad.exit_code == 2 and "--max-disk" in bad.stderr
    # The limit is echoed in the units it was typed in (binary, as --max-disk reads them), not re-scaled.
    typed = run_cli("cache", str(synthetic_dataset), "--out", str(tmp_path / "f2"), "--max-disk", "0.5MB")
    assert typed.exit_code == 2 and "more than --max-disk 512.0 KiB" in typed.stderr, typed.stderr


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 4 MiB tmpfs (needs mount privileges; CI containers run as root)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_cache_larger_than_the_free_disk_is_refused(synthetic_dataset: Path, tiny_disk: Path):
    out = tiny_disk / "frames"
    plan = json.loads(run_cli("cache", str(synthetic_dataset), "--plan", "--out", str(out), "--json").stdout)
    native = next(o for o in plan["options"] if o["name"] == "native")
    assert plan["free_bytes"] <= 4 * 1024**2 < native["bytes"] and not native["fits"]
    refused = run_cli("cache", str(synthetic_dataset), "--out", str(out))
    assert refused.exit_code == 2 and "free" in refused.stderr and str(tiny_disk) in refused.stderr
    assert list(tiny_disk.iterdir()) == []  # not even the folder or a lock file


def test_policy_resolution_cache_gives_the_documented_model_inputs(synthetic_dataset: Path, tmp_path: Path):
    """pi05 resizes every frame with lerobot's resize_with_pad_torch; diffusion with resize_shape with its
    encoder's own torchvision Resize. Frames from the reduced cache, through the same policy code, are
    within half a uint8 step of lerobot's frames through it, with the same shape."""
    from lerobot.datasets import LeRobotDataset
    from lerobot.policies.common.vla_utils import resize_with_pad_torch

    from kuavo_cli.config.policy import PolicySection
    from kuavo_cli.data.fast_reader import use_fast_reader
    from kuavo_cli.data.frame_cache import FrameCache
    from kuavo_cli.data.frame_cache_build import ensure_frame_cache
    from kuavo_cli.data.frame_cache_resize import policy_resize

    diffusion = PolicySection.model_validate(
        {
            "type": "diffusion",
            "resize_shape": [24, 40],
            "crop_ratio": 1.0,
            "pretrained_backbone_weights": None,
        }
    ).to_lerobot(device="cpu")
    policies = {"pi05": _pi05((32, 32)), "diffusion": diffusion}
    reference = LeRobotDataset("kuavo/synthetic", root=synthetic_dataset, return_uint8=True)
    encoder_resize = _diffusion_encoder_resize(diffusion)
    model_view = {
        # modeling_pi05.py `_preprocess_images`: channels-last, resize only when the size differs
        "pi05": lambda x: (
            x if tuple(x.shape[2:]) == (32, 32)
            else resize_with_pad_torch(x.permute(0, 2, 3, 1), 32, 32).permute(0, 3, 1, 2)
        ),
        "diffusion": encoder_resize,
    }  # fmt: skip
    for name, policy_cfg in policies.items():
        resize = policy_resize(policy_cfg)
        built = ensure_frame_cache(synthetic_dataset, reference.meta, tmp_path / name, resize=resize)
        cached = use_fast_reader(
            LeRobotDataset("kuavo/synthetic", root=synthetic_dataset, return_uint8=True),
            FrameCache(built.path),
        )
        worst = 0.0
        for index in (0, 39, 40, 131, len(reference) - 1):
            want_item, got_item = reference[index], cached[index]
            for key in CAMERAS:
                want = model_view[name](want_item[key].unsqueeze(0).float() / 255.0)
                got_frame = got_item[key].unsqueeze(0)
                assert got_frame.dtype == torch.uint8 and tuple(got_frame.shape[2:]) == resize.size
                got = model_view[name](got_frame.float() / 255.0)
                assert got.shape == want.shape, (name, key)
                worst = max(worst, (got - want).abs().max().item())
        assert worst <= HALF_STEP, (name, worst)
        assert worst > 0  # the rounding is real: the cache does not store lerobot's floats


def _diffusion_encoder_resize(policy_cfg):
    """The resize module of lerobot's real DiffusionRgbEncoder for this config (no weights downloaded)."""
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.diffusion.modeling_diffusion import DiffusionRgbEncoder

    from kuavo_cli.data.schema import kuavo_features

    features = kuavo_features((48, 64), True)  # (channels, height, width), as the synthetic dataset
    policy_cfg.input_features = {
        key: PolicyFeature(type=FeatureType.VISUAL, shape=tuple(features[key]["shape"])) for key in CAMERAS
    }
    encoder = DiffusionRgbEncoder(policy_cfg)
    return encoder.resize


def test_training_refuses_a_policy_cache_for_a_policy_without_resize(synthetic_dataset: Path, tmp_path: Path):
    from kuavo_cli.errors import UsageError
    from kuavo_cli.train.api import run_training
    from tests.train_fixtures import train_config

    cfg = train_config(synthetic_dataset, tmp_path / "run", steps=1)
    cfg["dataset"].update(cache=True, cache_dir=str(tmp_path / "frames"), cache_resolution="policy")

    with pytest.raises(UsageError, match="consumes the full frames"):
        run_training(cfg)
    assert not (tmp_path / "frames").exists()
