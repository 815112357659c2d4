#!/usr/bin/env bash
# Print a command that runs Python X.Y (default 3.12, what lerobot 0.6 needs; `find_python.sh 3.10` for the kit's
# lerobot 0.4.2): pythonX.Y on PATH, else pyenv's X.Y.z via PYENV_VERSION, else the usual install locations.
set -u
want="${1:-3.12}"
if ! [[ "$want" =~ ^3\.[0-9]+$ ]]; then
  echo "Error: find_python.sh takes a version like 3.12, not '$want'." >&2; exit 2
fi
major="${want%%.*}"; minor="${want#*.}"
exe="python$want"
check="import sys; assert sys.version_info[:2] == ($major, $minor)"
if command -v "$exe" >/dev/null 2>&1 && "$exe" -c "$check" >/dev/null 2>&1; then
  echo "$exe"; exit 0
fi
if command -v pyenv >/dev/null 2>&1; then
  v=$(pyenv versions --bare 2>/dev/null | grep -E "^${major}\\.${minor}(\\.[0-9]+)?\$" | sort -V | tail -n 1)
  if [ -n "$v" ]; then
    echo "env PYENV_VERSION=$v $(pyenv root)/versions/$v/bin/$exe"; exit 0
  fi
fi
for p in "/usr/bin/$exe" "/usr/local/bin/$exe" "$HOME"/.pyenv/versions/"$want".*/bin/"$exe"; do
  if [ -x "$p" ]; then echo "$p"; exit 0; fi
done
case "$want" in
  3.12) why="lerobot 0.6 needs it" ;;
  3.10) why="the competition kit's lerobot 0.4.2 environment needs it" ;;
  *) why="requested" ;;
esac
echo "Error: Python $want not found ($why). Install it, e.g. 'pyenv install $want' or 'apt-get install $exe', then re-run." >&2
exit 1
