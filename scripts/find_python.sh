#!/usr/bin/env bash
# Print a command that runs Python 3.12: python3.12 on PATH, else pyenv's 3.12.x via PYENV_VERSION.
set -u
if command -v python3.12 >/dev/null 2>&1 && python3.12 -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then
  echo "python3.12"; exit 0
fi
if command -v pyenv >/dev/null 2>&1; then
  v=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.[0-9]+)?$' | sort -V | tail -n 1)
  if [ -n "$v" ]; then
    echo "env PYENV_VERSION=$v $(pyenv root)/versions/$v/bin/python3.12"; exit 0
  fi
fi
for p in /usr/bin/python3.12 /usr/local/bin/python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12; do
  if [ -x "$p" ]; then echo "$p"; exit 0; fi
done
echo "Error: Python 3.12 not found (lerobot 0.6 needs it). Install it, e.g. 'pyenv install 3.12' or 'apt-get install python3.12', then re-run." >&2
exit 1
