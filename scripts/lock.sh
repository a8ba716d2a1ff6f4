#!/usr/bin/env bash
# Refresh the locks CI installs from, to the newest releases the version ranges allow:
#
#   scripts/lock.sh                   every lock, upgraded
#   scripts/lock.sh PACKAGE ...       only these packages upgraded, the rest kept
#
# requirements/test.lock: the package's dependencies with the `test` and `lint` extras, one
# universal file for every Python the package claims (>= 3.11). requirements/focus-validator.lock:
# the FOCUS validator's own venv on Python 3.12. Run the suite before committing a new lock.
set -euo pipefail
cd "$(dirname "$0")/.."

upgrade=(--upgrade)
if [ "$#" -gt 0 ]; then
    upgrade=()
    for name in "$@"; do upgrade+=(--upgrade-package "$name"); done
fi
uv() { python -m uv "$@"; }
uv pip compile pyproject.toml --extra test --extra lint --universal --python-version 3.11 \
    --generate-hashes "${upgrade[@]}" -o requirements/test.lock
uv pip compile requirements/focus-validator.in --python-version 3.12 \
    --generate-hashes "${upgrade[@]}" -o requirements/focus-validator.lock
