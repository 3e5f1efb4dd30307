#!/usr/bin/env bash
# The main job, from a fresh machine: installs what is missing, builds, and runs a local
# 3-node raftkv cluster in the foreground. Every node's log lines are prefixed "node I |" and
# coloured; you see all three start as followers, one win an election, and every later leader
# change with its term. Ctrl-C stops the cluster (SIGTERM to each node).
#   scripts/run.sh                     # info level
#   scripts/run.sh --log-level debug   # heartbeats too
# Clients: redis-cli -p 6381|6382|6383, or build/release/tools/raftkv/raftkv. Data under
# $RAFTKV_DIR (default /tmp/raftkv-cluster); the same command restarts from it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh release raftkv raftkv-server >/dev/null
dir=${RAFTKV_DIR:-/tmp/raftkv-cluster}
# This checkout's server, always: a cluster.conf left in $dir by another checkout names its
# own, which may be gone.
exec build/release/tools/raftkv/raftkv cluster start --dir "$dir" --nodes 3 --foreground \
  --server "$PWD/build/release/src/server/raftkv-server" "$@"
