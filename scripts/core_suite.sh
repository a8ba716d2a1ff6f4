#!/usr/bin/env bash
# The fast core of the suite on one Python from pyenv, in a venv of its own built from the same lock
# as CI: the library in one process, without LibreOffice, the browser, the FOCUS validator, the
# notebooks, or the end-to-end tests that start the command line in a child process (marked `e2e`
# by tests/conftest.py) or are marked slow; the full suite runs them on 3.11:
#
#   scripts/core_suite.sh 3.13        the newest Python the package claims
#
# The venv lives in $GENERECT_CORE_VENV_ROOT/<version> (default ~/.cache/generect-reports/core-venv).
set -euo pipefail
cd "$(dirname "$0")/.."

want="${1:?usage: $0 PYTHON_VERSION (for example 3.13)}"
root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
py="$(ls -d "$root"/versions/"$want".*/bin/python 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$py" ]; then
    echo "error: no Python $want under $root/versions (pyenv install $want)" >&2
    exit 2
fi
venv="${GENERECT_CORE_VENV_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/generect-reports/core-venv}/$want"
rm -rf "$venv"
"$py" -m venv "$venv"
uv() { python -m uv "$@"; }
uv pip install --quiet --python "$venv/bin/python" -r requirements/test.lock
uv pip install --quiet --python "$venv/bin/python" --no-deps .
"$venv/bin/python" --version
# Same options as the full suite's addopts, less nbval: the notebooks run in the full suite.
"$venv/bin/python" -m pytest tests -p no:nbval -o addopts="" \
    -ra --strict-markers -p no:cacheprovider -n 2 --dist loadfile \
    -m "not libreoffice and not browser and not focus and not e2e and not slow"
