"""`--push-to-hub REPO_ID`: upload a lerobot bundle with huggingface_hub (create_repo + upload_folder).

HF_ENDPOINT selects another hub (a mirror, or the loopback server in the tests); the token is the one
`hf auth login` stored, or HF_TOKEN. Nothing here runs when HF_HUB_OFFLINE is set.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from kuavo_cli.errors import KuavoError, UsageError

REPO_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_repo_id(repo_id: str) -> None:
    if not REPO_ID_RE.fullmatch(repo_id) or ".." in repo_id or repo_id.endswith(".git"):
        raise UsageError(
            f"--push-to-hub {repo_id!r} is not a hub repo id", "use NAMESPACE/NAME, e.g. myteam/act-task1"
        )


def check_can_push(repo_id: str) -> None:
    """Fail before exporting anything when the upload cannot happen."""
    from huggingface_hub import constants

    check_repo_id(repo_id)
    if constants.HF_HUB_OFFLINE:
        raise UsageError("HF_HUB_OFFLINE is set, so nothing can be uploaded", "unset HF_HUB_OFFLINE to push")


def push_folder(folder: Path, repo_id: str, private: bool | None = None) -> dict[str, Any]:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    check_can_push(repo_id)
    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None)
    try:
        url = api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        info = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type="model",
            commit_message="Upload policy exported with kuavo export",
        )
    except OfflineModeIsEnabled as err:
        raise UsageError("HF_HUB_OFFLINE is set, so nothing can be uploaded", "unset HF_HUB_OFFLINE") from err
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else "?"
        hint = "log in with `hf auth login` (a write token)" if status in (401, 403) else "check the repo id"
        raise KuavoError(
            f"upload to {repo_id} failed (HTTP {status}): {str(err).splitlines()[0]}", hint
        ) from err
    except OSError as err:  # connection refused, DNS, TLS: the httpx errors derive from neither, see below
        raise KuavoError(
            f"cannot reach the hub at {api.endpoint}: {err}", "check the network or HF_ENDPOINT"
        ) from err
    except Exception as err:
        if type(err).__module__.startswith("httpx"):
            raise KuavoError(
                f"cannot reach the hub at {api.endpoint}: {err}", "check the network / HF_ENDPOINT"
            ) from err
        raise
    return {
        "repo_id": repo_id,
        "url": str(url),
        "commit": getattr(info, "oid", None),
        "commit_url": getattr(info, "commit_url", None),
    }
