#!/usr/bin/env bash
# raftkv-bench's etcd driver against bench/etcd_load (etcd's `benchmark` load model) on one
# 3-node etcd cluster: linearizable reads of 10,000 prefilled keys, 256 clients over 64
# connections, the two tools alternating, ROUNDS pairs on the fresh cluster and ROUNDS pairs
# after WRITES more keys have been written (bench/compare.sh reads after its write cases).
#   bench/compare/etcd_driver_check.sh --bench RAFTKV_BENCH [--rounds N] [--writes N]
#                                      [--base-port P] [--dir D]
# RAFTKV_BENCH is a raftkv-bench built with -DRAFTKV_ETCD_BENCH=ON (build/bench of
# bench/compare.sh). Prints one line per run: phase, tool, client CPU seconds (user, system),
# load average, and the tool's JSON line. Ports P+21..23 (clients), P+31..33 (peers).
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=2
writes=150000
base_port=24401
dir=/tmp/raftkv-etcd-driver-check
bench=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bench) bench="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --writes) writes="$2"; shift 2 ;;
    --base-port) base_port="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    *) sed -n '6,7p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
  esac
done
[[ -x "$bench" ]] || { echo "etcd_driver_check: --bench wants raftkv-bench" >&2; exit 2; }

source bench/lib.sh
ETCD_CLIENT_PORT=$((base_port + 21))
ETCD_PEER_PORT=$((base_port + 31))
source bench/compare/etcd.sh
load=build/etcd_load/etcd_load
bench_build_etcd_load "$load"
readonly READ_KEYS=10000 KEY_SIZE=16 VALUE_SIZE=256

trap 'etcd_stop "$dir"' EXIT
etcd_start "$dir"
read -r _ endpoints < <(bench/compare/cluster.py --system etcd --endpoints "$(etcd_endpoints)" \
    --wait 30)
leader=${endpoints%%,*}

# Each tool reads the keys it wrote itself (they name keys differently).
"$bench" --target etcd --endpoints "$endpoints" --clients 256 --connections 64 \
    --prefill "$READ_KEYS" --keyspace "$READ_KEYS" --read-ratio 1 --ops 1 \
    --key-size "$KEY_SIZE" --value-size "$VALUE_SIZE" --quiet >/dev/null 2>&1
"$load" put --endpoints "$leader" --clients 64 --conns 16 --key-size "$KEY_SIZE" \
    --val-size "$VALUE_SIZE" --key-space-size "$READ_KEYS" --sequential-keys \
    --total "$READ_KEYS" >/dev/null

timed() {  # LABEL command...
  local label=$1 TIMEFORMAT='%U %S'
  shift
  { time "$@" >"$dir/out" 2>/dev/null; } 2>"$dir/cpu"
  echo "$label cpu $(<"$dir/cpu") load $(cut -d' ' -f1 /proc/loadavg)" \
       "$(grep '^{' "$dir/out" | tail -1)"
}

pairs() {  # PHASE
  for _ in $(seq "$rounds"); do
    timed "$1 raftkv-bench" "$bench" --target etcd --endpoints "$endpoints" --clients 256 \
        --connections 64 --duration 8 --warmup 1 --keyspace "$READ_KEYS" --read-ratio 1 \
        --read-mode linearizable --key-size "$KEY_SIZE" --value-size "$VALUE_SIZE" --json \
        --quiet
    timed "$1 etcd_load" "$load" range --endpoints "$leader" --clients 256 --conns 64 \
        --key-size "$KEY_SIZE" --key-space-size "$READ_KEYS" --total 30000
  done
}

pairs fresh
timed "write $writes keys: etcd_load" "$load" put --endpoints "$leader" --clients 256 \
    --conns 100 --key-size "$KEY_SIZE" --val-size "$VALUE_SIZE" --key-space-size 100000000 \
    --total "$writes"
pairs written
