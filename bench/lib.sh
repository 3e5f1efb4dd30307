# shellcheck shell=bash
# Shell functions shared by the benchmark scripts (bench/server_bench.sh, bench/compare.sh,
# bench/memory_soak.sh). Source it; it defines functions and runs nothing.

# Installs those of the given Debian packages that are missing; silent when all are present.
# Needs root (or sudo) only when it has something to install.
bench_install() {
  local package status missing=()
  for package in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$package")
  done
  [[ ${#missing[@]} -gt 0 ]] || return 0
  echo "bench: installing ${missing[*]}" >&2
  local sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null
}

# The disk's synchronous-append limit: fio writing 4 KiB blocks sequentially with an
# fdatasync after each, queue depth 1, for SECONDS (default 3) in DIR (on the disk to
# measure; created, and emptied afterwards). Prints one line:
#   <write IOPS> <p50 fdatasync latency us> <p99 fdatasync latency us>
# fio's "sync" latency is the fdatasync call alone; the write before it only fills the page
# cache. IOPS counts write+fdatasync pairs.
bench_fio() {
  local dir=$1 seconds=${2:-3} size=${3:-64m}
  mkdir -p "$dir"
  fio --name=fdatasync --directory="$dir" --rw=write --bs=4k --fdatasync=1 --size="$size" \
      --runtime="$seconds" --time_based --output-format=json >"$dir/fio.json"
  rm -f "$dir"/fdatasync.*
  python3 - "$dir/fio.json" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
lat = job["sync"]["lat_ns"]
pct = lat.get("percentile", {})
p50 = pct.get("50.000000", lat["mean"])
p99 = pct.get("99.000000", lat["max"])
print("%.0f %.0f %.0f" % (job["write"]["iops"], p50 / 1e3, p99 / 1e3))
PY
}

# Peak and current resident set of a process, in KiB: "<VmHWM> <VmRSS>", or nothing if the
# process is gone.
bench_rss_kb() {
  local status="/proc/$1/status"
  [[ -r "$status" ]] || return 0
  awk '/^VmHWM:/ {hwm = $2} /^VmRSS:/ {rss = $2} END {if (hwm != "") print hwm, rss}' \
      "$status" 2>/dev/null || true
}

# Fails, saying how to build one, unless raftkv-bench BIN has its etcd target (it needs
# -DRAFTKV_ETCD_BENCH=ON). Scripts ask before they load anything: finding out at the etcd
# step loses the runs before it.
bench_require_etcd_target() {  # NAME BIN BUILD_DIR
  # Captured, not piped into grep: the probe exits non-zero either way, which pipefail
  # would turn into "no match".
  local said
  said=$("$2" --target etcd --endpoints 127.0.0.1:1 --duration 1 2>&1 || true)
  [[ $said == *"built without etcd support"* ]] || return 0
  echo "$1: $2 has no etcd target: cmake -S . -B $3 -DRAFTKV_ETCD_BENCH=ON," \
       "then build raftkv-bench (needs libgrpc++-dev protobuf-compiler-grpc" \
       "golang-etcd-server-dev)" >&2
  exit 2
}

# Builds bench/etcd_load (etcd's `benchmark` load model, see its main.go) into OUT, offline:
# GOPATH mode against the Go sources of Debian's golang-* -dev packages. Rebuilds only when
# main.go is newer than OUT.
bench_build_etcd_load() {
  local out source_dir
  out=$(realpath -m "$1")
  source_dir="$(dirname "${BASH_SOURCE[0]}")/etcd_load"
  [[ -x "$out" && "$out" -nt "$source_dir/main.go" ]] && return 0
  bench_install golang-go golang-etcd-server-dev
  echo "bench: building $out (the first build compiles clientv3 and gRPC: about a minute)" >&2
  mkdir -p "$(dirname "$out")"
  (cd "$source_dir" && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= \
      go build -o "$out" .)
}

# Two local 3-node raftkv clusters side by side, for TLS against plaintext (bench/tls_*.sh):
# DIR/raftkv-plain, plaintext, and DIR/raftkv-tls, `raftkv cluster start --tls` (TLS on the
# client and peer links; the throwaway CA and certificates in DIR/raftkv-tls/tls). Ports from
# BASE: plaintext peers BASE+1.., clients BASE+11.., HTTP BASE+21..; TLS cluster peers
# BASE+31.., plaintext clients BASE+41.., TLS clients BASE+51.., HTTP BASE+61.. Sets
# bench_tls_flags to the client flags (--tls --cacert --cert --key) that cluster's CA takes.
bench_tls_pair_start() {  # RAFTKV DIR BASE
  local raftkv=$1 dir=$2 base=$3
  "$raftkv" cluster start --dir "$dir/raftkv-plain" --nodes 3 --log-level warn \
      --base-peer-port $((base + 1)) --base-client-port $((base + 11)) \
      --base-http-port $((base + 21)) >/dev/null
  "$raftkv" cluster start --tls --dir "$dir/raftkv-tls" --nodes 3 --log-level warn \
      --base-peer-port $((base + 31)) --base-client-port $((base + 41)) \
      --base-http-port $((base + 61)) >/dev/null
  local certs=$dir/raftkv-tls/tls
  # shellcheck disable=SC2034  # Read by the scripts that source this file.
  bench_tls_flags=(--tls --cacert "$certs/ca.crt" --cert "$certs/client.crt"
                   --key "$certs/client.key")
}

bench_tls_pair_stop() {  # RAFTKV DIR: stops both clusters, if they run.
  "$1" cluster stop --dir "$2/raftkv-plain" >/dev/null 2>&1 || true
  "$1" cluster stop --dir "$2/raftkv-tls" >/dev/null 2>&1 || true
}
