#!/usr/bin/env bash
# The layering of shared/DESIGN.md, checked on the includes: nothing imports upward. Each
# folder of src/ may include only the folders listed for it (and the standard library and
# third-party headers, in <>). The runtime in particular includes interfaces only: never asio,
# DiskStorage or the wire format; the layers it drives implement its interfaces
# (runtime/storage.h, transport.h, state_machine.h), so they include src/runtime and not the
# other way round. Exits non-zero naming every offending line.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A allowed=(
  [common]="common"
  [protocol]="protocol"
  [raft]="common raft"
  [runtime]="common raft runtime"
  [storage]="common raft runtime storage proto"
  [kv]="common runtime protocol kv net/resp_encoder.h"
  [net]="common raft runtime net proto"
  [client]="common protocol client"
  [server]="common protocol raft runtime storage kv net server proto client"
)

status=0
for layer in "${!allowed[@]}"; do
  [[ -d src/$layer ]] || continue
  while IFS= read -r line; do
    file=${line%%:*}
    header=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"$line")
    ok=0
    for prefix in ${allowed[$layer]}; do
      if [[ $header == "$prefix" || $header == "$prefix"/* ]]; then ok=1; fi
    done
    if [[ $ok -eq 0 ]]; then
      echo "src/$layer may not include \"$header\" ($file)" >&2
      status=1
    fi
  done < <(grep -rHE '^#include "' "src/$layer" || true)
done
# The runtime includes no I/O library either.
if grep -rnE '#include <(asio|boost/asio|google/protobuf)' src/runtime >&2; then status=1; fi
[[ $status -eq 0 ]] && echo "layering: ok (${!allowed[*]})"
exit $status
