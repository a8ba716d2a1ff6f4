#!/usr/bin/env bash
# The whole suite against the newest releases the version ranges allow, ignoring the lock: what a
# user who runs `pip install generect-reports` today gets. Not part of CI; run it before a
# release or a lock refresh, and fix what it finds.
#
#   scripts/test_newest.sh [PYTHON_VERSION] [PYTEST ARGS...]      (default 3.11)
set -euo pipefail
cd "$(dirname "$0")/.."

want="${1:-3.11}"
shift || true
root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
py="$(ls -d "$root"/versions/"$want".*/bin/python 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$py" ]; then
    echo "error: no Python $want under $root/versions (pyenv install $want)" >&2
    exit 2
fi
venv="${XDG_CACHE_HOME:-$HOME/.cache}/generect-reports/newest-venv/$want"
rm -rf "$venv"
"$py" -m venv "$venv"
python -m uv pip install --quiet --python "$venv/bin/python" --upgrade --refresh ".[test,lint]"
"$venv/bin/python" -m pytest "$@"
