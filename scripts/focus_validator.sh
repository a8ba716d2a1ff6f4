#!/usr/bin/env bash
# The FinOps Foundation's FOCUS validator (focus-validator 2.2.1, FOCUS 1.2 rules) in its own venv.
#
#   scripts/focus_validator.sh setup          build the venv (Python 3.12 from pyenv), once
#   scripts/focus_validator.sh run FILE       validate FILE (CSV or Parquet), print its report
#
# The venv lives in $GENERECT_FOCUS_VENV (default ~/.cache/generect-reports/focus-validator-2.2.1).
# The validator needs Python >= 3.12 and reads focus_validator/rules/currency_codes.csv relative
# to its working folder, which the installed wheel does not provide: `setup` writes that file
# (ISO 4217 codes from pycountry) into "$VENV/work", and `run` starts the validator there.
# It exits 0 even when rules fail: read its summary line and its FAIL lines.
set -euo pipefail

LOCK="$(cd "$(dirname "$0")/.." && pwd)/requirements/focus-validator.lock"

VENV="${GENERECT_FOCUS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/generect-reports/focus-validator-2.2.1}"
CRITERIA="USAGE_MEASUREMENT_SUPPORTED,UNIT_PRICING_SUPPORTED,VIRTUAL_CURRENCY_SUPPORTED,PUBLIC_PRICE_LIST_SUPPORTED,PRICING_BILLING_CURRENCY_DIFFERENCES_SUPPORTED"

setup() {
    local root py
    # pyenv may not be on PATH in a non-interactive shell: fall back to its usual home.
    root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
    py="$(ls -d "$root"/versions/3.12.*/bin/python 2>/dev/null | sort -V | tail -n 1)"
    if [ -z "$py" ]; then
        echo "error: no Python 3.12 under $root/versions (pyenv install 3.12)" >&2
        exit 2
    fi
    rm -rf "$VENV.tmp"
    "$py" -m venv "$VENV.tmp"
    # Pinned, with hashes, by requirements/focus-validator.lock (made from focus-validator.in).
    "$VENV.tmp/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$LOCK"
    mkdir -p "$VENV.tmp/work/focus_validator/rules"
    "$VENV.tmp/bin/python" - "$VENV.tmp/work/focus_validator/rules/currency_codes.csv" <<'PY'
import csv, sys
import pycountry
codes = sorted({c.alpha_3 for c in pycountry.currencies})
with open(sys.argv[1], "w", newline="") as fh:
    writer = csv.writer(fh)
    writer.writerow(["currency_codes"])
    writer.writerows([c] for c in codes)
PY
    # Built in a side folder and renamed at the end, so a half-built venv never looks ready.
    rm -rf "$VENV"
    mv "$VENV.tmp" "$VENV"
    # venv scripts hold absolute paths: rebuild the console script for the final location.
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "focus-validator==2.2.1"
    echo "$VENV"
}

run() {
    local file
    file="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
    if [ ! -x "$VENV/bin/focus-validator" ]; then
        echo "error: no validator venv at $VENV: run '$0 setup' first" >&2
        exit 2
    fi
    cd "$VENV/work"
    "$VENV/bin/focus-validator" --data-file "$file" --validate-version 1.2 --block-download \
        --applicability-criteria "$CRITERIA"
}

case "${1:-}" in
    setup) setup ;;
    run) [ $# -eq 2 ] || { echo "usage: $0 run FILE" >&2; exit 2; }; run "$2" ;;
    venv) echo "$VENV" ;;
    *) echo "usage: $0 setup | run FILE | venv" >&2; exit 2 ;;
esac
