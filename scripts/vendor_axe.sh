#!/usr/bin/env bash
# Refresh tests/data/axe-core/ (axe-core, the accessibility engine the browser tests run) from
# the npm registry, pinned and checked against the registry's integrity hash:
#
#   scripts/vendor_axe.sh             the pinned version again (the files must not change)
#   scripts/vendor_axe.sh 4.15.0      another version: update AXE_VERSION and the README's hashes
#
# axe-core is MPL-2.0: axe.min.js keeps its licence header and the LICENSE files sit beside it.
# CI needs no Node.js: the tests read the vendored file.
set -euo pipefail
cd "$(dirname "$0")/.."

AXE_VERSION="${1:-4.14.1}"
dest=tests/data/axe-core
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "axe-core@${AXE_VERSION}" >/dev/null)
tarball="$work/axe-core-${AXE_VERSION}.tgz"
want="$(npm view "axe-core@${AXE_VERSION}" dist.integrity)"
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$want" != "$got" ]; then
    echo "axe-core ${AXE_VERSION}: integrity $got does not match the registry's $want" >&2
    exit 1
fi
tar -xzf "$tarball" -C "$work"
mkdir -p "$dest"
cp "$work/package/axe.min.js" "$work/package/LICENSE" "$work/package/LICENSE-3RD-PARTY.txt" "$dest/"
echo "axe-core ${AXE_VERSION} ($got)"
sha256sum "$dest/axe.min.js"
