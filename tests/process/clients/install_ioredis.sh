#!/usr/bin/env bash
# Installs the npm packages of package.json (ioredis, pinned with its dependencies by
# package-lock.json) into DIR/node_modules, unless they are there already. npm comes from
# Debian's npm package (scripts/setup.sh) or any node install that has it.
#   tests/process/clients/install_ioredis.sh DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: install_ioredis.sh DIR}
if [[ -f $dir/node_modules/ioredis/package.json ]] &&
   cmp -s "$here/package-lock.json" "$dir/package-lock.json"; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm is missing: run scripts/setup.sh" >&2; exit 1; }
mkdir -p "$dir"
cp "$here/package.json" "$here/package-lock.json" "$dir/"
cd "$dir"
npm ci --no-audit --no-fund --loglevel=error
