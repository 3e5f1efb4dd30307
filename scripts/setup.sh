#!/usr/bin/env bash
# Installs the Debian packages raftkv needs to build and test, and nothing when all are present.
# Idempotent; quiet unless it has something to do. Needs root (or sudo) only when installing.
set -euo pipefail

packages=(
  # Toolchain.
  g++ cmake ninja-build pkg-config
  # Libraries (shared/DESIGN.md "Dependencies").
  libasio-dev libprotobuf-dev protobuf-compiler libspdlog-dev libfmt-dev libcli11-dev
  libcpp-httplib-dev nlohmann-json3-dev zlib1g-dev libjemalloc-dev
  # xxHash: the key space's order is by XXH3 of each key (src/kv/tag_order.h).
  libxxhash-dev
  # OpenSSL: password digests, TLS on the client, peer and HTTP links (docs/security.md); the
  # openssl program makes the local cluster's throwaway certificates (raftkv cluster start
  # --tls).
  libssl-dev openssl
  # Tests and benchmarks (redis-tools: redis-cli and redis-benchmark must work unchanged).
  libgtest-dev libgmock-dev libbenchmark-dev redis-tools
  # libFuzzer and the sanitizer runtimes for the fuzz targets.
  clang libclang-rt-14-dev
  # tests/faults: network namespaces, partitions and shaping, the RESP workload.
  iproute2 iptables python3 python3-redis
  # Process tests: tests/lazyfs (a FUSE file system that loses unsynced writes) and network
  # partitions between local nodes (iptables). Both need root; without it the tests skip.
  libfuse3-dev fuse3
  # The web view's browser test (tests/browser): headless Chromium driven by Selenium.
  chromium chromium-driver python3-selenium
  # Real Redis clients against raftkv (tests/process/redis_clients_test.cc): hiredis in C
  # (redis-py is python3-redis above; ioredis comes from npm, see below), and Redis' own test
  # units (../shared/redis-tests) run with tclsh.
  libhiredis-dev tcl
)
# ioredis is installed from npm by the test itself (tests/process/clients/install_ioredis.sh),
# pinned by package-lock.json; it needs node and npm. A machine with a node of its own (and its
# npm) keeps it: Debian's npm would replace it.
if ! command -v npm >/dev/null; then packages+=(nodejs npm); fi

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup: installing ${missing[*]}"
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
