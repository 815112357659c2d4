#!/usr/bin/env bash
# Create (once) and print the path of a Python 3.10 virtual env with lerobot==0.4.2, the library the competition
# kit deploys with. Tests load kuavo's kit exports in it to prove the kit's own library accepts them.
#
# Idempotent and safe to kill: the env is built in a temporary sibling folder and renamed into place only after
# lerobot imports, with a stamp file naming what was installed; a half-built folder is never reused.
#   KUAVO_KIT_ENV          where the env lives (default ~/.cache/kuavo/kit-env-lerobot-0.4.2)
#   KUAVO_KIT_TORCH_INDEX  an index to take torch/torchvision from first, e.g. https://download.pytorch.org/whl/cpu
#                          (~10x smaller than PyPI's CUDA build); unset: everything comes from the default index
# Exit codes: 0 ready (path on stdout), 3 no Python 3.10 on this machine, 1 the install failed.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
dest="${KUAVO_KIT_ENV:-$HOME/.cache/kuavo/kit-env-lerobot-0.4.2}"
torch_index="${KUAVO_KIT_TORCH_INDEX:-}"
# Bump the spec when the pins change: a stamp with another spec means the env is rebuilt.
spec="lerobot==0.4.2 torch==2.7.1 torchvision==0.22.1 spec=1"
stamp="$dest/.kuavo-kit-env"

ready() { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$spec" ] && "$dest/bin/python" -c 'import lerobot' >/dev/null 2>&1; }
if ready; then echo "$dest"; exit 0; fi

python_cmd="$("$here/find_python.sh" 3.10)" || exit 3
mkdir -p "$(dirname "$dest")" || exit 1
# One builder at a time (make test and the pytest fixture may both ask); the second waits, then finds it ready.
exec 9>"$dest.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if ready; then echo "$dest"; exit 0; fi
rm -rf "$dest".building.*  # left by a killed build (we hold the lock, so no build is running)

tmp="$(mktemp -d "$dest.building.XXXXXX")" && chmod 755 "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT
echo "Building the kit env (Python 3.10, $spec) in $dest; first time only, a few minutes." >&2
# shellcheck disable=SC2086  # python_cmd may be "env PYENV_VERSION=... /path/python3.10"
$python_cmd -m venv "$tmp" || exit 1
pip=("$tmp/bin/python" -m pip install -q --disable-pip-version-check)
if [ -n "$torch_index" ]; then
  "${pip[@]}" --index-url "$torch_index" torch==2.7.1 torchvision==0.22.1 >&2 || exit 1
fi
"${pip[@]}" lerobot==0.4.2 torch==2.7.1 torchvision==0.22.1 >&2 || exit 1
"$tmp/bin/python" -c 'import lerobot, lerobot.policies.act.modeling_act, lerobot.policies.diffusion.modeling_diffusion' >&2 || exit 1
echo "$spec" >"$tmp/.kuavo-kit-env"
rm -rf "$dest"
mv "$tmp" "$dest" || exit 1
trap - EXIT
echo "$dest"
