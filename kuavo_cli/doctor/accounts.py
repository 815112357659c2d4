"""Hub login and endpoint, and whether wandb would stop a training job to ask for a key."""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from urllib.parse import urlparse

from kuavo_cli.doctor.base import Check, error, hf_token_path, ok, short_error, warning

_TRUE = {"1", "true", "yes", "on"}


def check_hub_token() -> Check:
    """Where a hub token would come from; the token itself is never read into the report."""
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if os.environ.get(var, "").strip():
            return ok("hub login", f"token from ${var}")
    path = hf_token_path()
    try:
        has_token = path.is_file() and bool(path.read_text(encoding="utf-8").strip())
    except OSError as err:
        return warning("hub login", f"token file {path} unreadable: {short_error(err)}", "hf auth login")
    if has_token:
        return ok("hub login", f"token file {path}")
    return warning(
        "hub login",
        f"no token (HF_TOKEN unset, no {path}): public data downloads, gated/private repos and --push-to-hub fail",
        "hf auth login",
    )


def check_hub_endpoint() -> Check:
    endpoint = os.environ.get("HF_ENDPOINT", "").strip()
    offline = (
        os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    ).lower() in _TRUE
    where = f"mirror {endpoint} (HF_ENDPOINT)" if endpoint else "https://huggingface.co"
    if endpoint:
        url = urlparse(endpoint)
        if url.scheme not in ("http", "https") or not url.netloc:
            return error(
                "hub endpoint",
                f"HF_ENDPOINT={endpoint!r} is not an http(s) URL",
                "export HF_ENDPOINT=https://hf-mirror.com  # or: unset HF_ENDPOINT",
            )
    if offline:
        return warning(
            "hub endpoint",
            f"{where}, offline (HF_HUB_OFFLINE=1): only cached files are used, downloads fail",
            "unset HF_HUB_OFFLINE  # when you want to download",
        )
    return ok("hub endpoint", where)


def _netrc_has_wandb(path: Path) -> bool | str:
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    if not path.is_file():
        return False
    try:
        auth = netrc.netrc(str(path)).authenticators(host)
    except (netrc.NetrcParseError, OSError) as err:
        return f"{path} does not parse: {short_error(err)}"
    return bool(auth and auth[2])


def check_wandb() -> Check:
    mode = os.environ.get("WANDB_MODE", "").strip().lower()
    if mode == "disabled" or os.environ.get("WANDB_DISABLED", "").lower() in _TRUE:
        return ok("wandb", "disabled (WANDB_MODE=disabled)")
    if mode in ("offline", "dryrun"):
        return ok(
            "wandb", f"offline (WANDB_MODE={mode}): runs are saved locally; upload later with `wandb sync`"
        )
    if os.environ.get("WANDB_API_KEY", "").strip():
        return ok("wandb", f"{mode or 'online'}, key from $WANDB_API_KEY")
    netrc_path = Path(os.environ.get("NETRC", Path.home() / ".netrc")).expanduser()
    found = _netrc_has_wandb(netrc_path)
    if isinstance(found, str):
        return warning("wandb", found, "wandb login --relogin")
    if found:
        return ok("wandb", f"{mode or 'online'}, key in {netrc_path}")
    return warning(
        "wandb",
        "no API key (WANDB_API_KEY unset, none in ~/.netrc): plain wandb would stop a job to prompt for one "
        "(`kuavo train` logs offline instead)",
        "wandb login  # or: export WANDB_MODE=offline",
    )
