"""The LeRobot `features` dict of a converted dataset (data-format doc §3)."""

from __future__ import annotations

from kuavo_cli.convert.config import ConvertConfig
from kuavo_cli.convert.topics import CAMERAS, camera_names
from kuavo_cli.data.schema import (
    ACTION_KEY,
    ACTION_NAMES_CLAW,
    ACTION_NAMES_DEXHAND,
    JOINT_LIMITS,
    STATE_KEY,
    STATE_NAMES,
)

# Which of the 16 both-arm dimensions each `arms` choice keeps ([L arm 7, L grip] / [R arm 7, R grip]).
ARM_DIMS = {"both": list(range(16)), "left": list(range(8)), "right": list(range(8, 16))}


def action_family(gripper: str) -> str:
    """Claw and rq2f85 share the action names (`left_claw` ...); the dexterous hand has its own."""
    return "dexhand" if gripper == "dexhand" else "claw"


def clip_ranges(arms: str) -> tuple[list[float], list[float]]:
    dims = ARM_DIMS[arms]
    return [JOINT_LIMITS[i][0] for i in dims], [JOINT_LIMITS[i][1] for i in dims]


def build_features(cfg: ConvertConfig, family: str) -> dict:
    """State, action, then colour cameras, then depth cameras, in the official order.

    One deliberate difference: with a single arm the official converter keeps all 16 state names for
    an 8-dim vector (a bug noted in the doc); here the names always match the shape.
    """
    dims = ARM_DIMS[cfg.arms]
    action_names = ACTION_NAMES_DEXHAND if family == "dexhand" else ACTION_NAMES_CLAW
    features: dict = {
        STATE_KEY: {
            "dtype": "float32",
            "shape": (len(dims),),
            "names": {"state_names": [STATE_NAMES[i] for i in dims]},
        },
        ACTION_KEY: {
            "dtype": "float32",
            "shape": (len(dims),),
            "names": {"action_names": [action_names[i] for i in dims]},
        },
    }
    h, w = cfg.image_hw
    names = camera_names(cfg.arms, cfg.depth)
    ordered = [n for n in names if not CAMERAS[n][2]] + [n for n in names if CAMERAS[n][2]]
    for name in ordered:
        features[CAMERAS[name][1]] = {
            "dtype": "video",
            "shape": (3, h, w),
            "names": ["channels", "height", "width"],
        }
    return features
