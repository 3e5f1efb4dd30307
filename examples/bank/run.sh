#!/usr/bin/env bash
# Builds the bank example (and the server it runs), then runs it: a local 3-node cluster,
# transfers under each delivery semantics through a fault-injecting proxy, the leader killed
# with kill -9 several times per run, and a table audited from the servers' state.
# Arguments go to the program: examples/bank/run.sh --transfers 300 --seed 7 -v
set -euo pipefail
cd "$(dirname "$0")/../.."

scripts/build.sh release bank >/dev/null
exec build/release/examples/bank/bank "$@"
