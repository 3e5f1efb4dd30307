# shellcheck shell=bash
# A local 3-node etcd cluster for bench/compare.sh; source this file, then call the functions.
# Layout under DIR (like `raftkv cluster`): DIR/nodeI/data (--data-dir), DIR/nodeI/etcd.log,
# DIR/nodeI/etcd.pid. Node I serves clients on http://127.0.0.1:(ETCD_CLIENT_PORT+I-1) and
# peers on http://127.0.0.1:(ETCD_PEER_PORT+I-1). Heartbeat 100 ms and election timeout
# 1000 ms are etcd's defaults, written out so that the comparison with raftkv is visible.
# Needs: ETCD_BIN (default /usr/bin/etcd), ETCD_CLIENT_PORT, ETCD_PEER_PORT, ETCD_NODES (3).
# With ETCD_TLS_DIR set (a `raftkv cluster start --tls` certificate directory: ca.crt and
# raftkv-node-I.crt/.key), every URL is https and both links are mutual TLS: clients must
# present a certificate of that CA (--client-cert-auth), and so must peers.

ETCD_BIN=${ETCD_BIN:-/usr/bin/etcd}
ETCD_NODES=${ETCD_NODES:-3}
ETCD_HEARTBEAT_MS=${ETCD_HEARTBEAT_MS:-100}
ETCD_ELECTION_MS=${ETCD_ELECTION_MS:-1000}
ETCD_QUOTA_BYTES=${ETCD_QUOTA_BYTES:-$((8 << 30))}  # etcd's largest recommended quota.

etcd_client_port() { echo $((ETCD_CLIENT_PORT + $1 - 1)); }
etcd_peer_port() { echo $((ETCD_PEER_PORT + $1 - 1)); }

etcd_endpoints() {  # host:port,host:port,... (client URLs without http://), node 1 first.
  local id out=""
  for id in $(seq "$ETCD_NODES"); do out+="${out:+,}127.0.0.1:$(etcd_client_port "$id")"; done
  echo "$out"
}

etcd_scheme() { if [[ -n "${ETCD_TLS_DIR:-}" ]]; then echo https; else echo http; fi; }

etcd_initial_cluster() {
  local id out=""
  for id in $(seq "$ETCD_NODES"); do
    out+="${out:+,}n$id=$(etcd_scheme)://127.0.0.1:$(etcd_peer_port "$id")"
  done
  echo "$out"
}

etcd_tls_flags() {  # ID: node ID's certificate flags with ETCD_TLS_DIR, else nothing.
  [[ -n "${ETCD_TLS_DIR:-}" ]] || return 0
  local base="$ETCD_TLS_DIR/raftkv-node-$1" ca="$ETCD_TLS_DIR/ca.crt"
  echo --cert-file "$base.crt" --key-file "$base.key" --trusted-ca-file "$ca" \
       --client-cert-auth --peer-cert-file "$base.crt" --peer-key-file "$base.key" \
       --peer-trusted-ca-file "$ca" --peer-client-cert-auth
}

etcd_start_node() {  # DIR ID: starts (or restarts from its data) node ID in the background.
  local dir=$1 id=$2
  local node="$dir/node$id" client peer tls_flags
  client="$(etcd_scheme)://127.0.0.1:$(etcd_client_port "$id")"
  peer="$(etcd_scheme)://127.0.0.1:$(etcd_peer_port "$id")"
  read -ra tls_flags <<<"$(etcd_tls_flags "$id")"
  mkdir -p "$node"
  # A restarted member reads its membership from --data-dir; the --initial-* flags are then
  # ignored, so the same command line serves for the first start and every restart.
  "$ETCD_BIN" --name "n$id" --data-dir "$node/data" \
      --listen-client-urls "$client" --advertise-client-urls "$client" \
      --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
      --initial-cluster "$(etcd_initial_cluster)" --initial-cluster-state new \
      --initial-cluster-token raftkv-compare \
      --heartbeat-interval "$ETCD_HEARTBEAT_MS" --election-timeout "$ETCD_ELECTION_MS" \
      --quota-backend-bytes "$ETCD_QUOTA_BYTES" \
      --logger zap --log-level warn --log-outputs stderr "${tls_flags[@]}" \
      >>"$node/etcd.log" 2>&1 </dev/null &
  echo $! >"$node/etcd.pid"
}

etcd_start() {  # DIR: starts every node from an empty DIR; fails if no leader in 20 s.
  local dir=$1 id
  rm -rf "$dir"
  mkdir -p "$dir"
  for id in $(seq "$ETCD_NODES"); do etcd_start_node "$dir" "$id"; done
}

etcd_node_pid() {  # DIR ID: the pid if that node runs, else nothing.
  local file="$1/node$2/etcd.pid" pid
  [[ -f "$file" ]] || return 0
  pid=$(<"$file")
  if kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

etcd_kill_node() {  # DIR ID [SIGNAL]: kills one node (default SIGKILL) and waits for it.
  local pid
  pid=$(etcd_node_pid "$1" "$2")
  [[ -n "$pid" ]] || return 0
  kill "-${3:-KILL}" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true  # Reaps it when it is this shell's child.
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -f "$1/node$2/etcd.pid"
}

etcd_stop() {  # DIR: SIGTERM to every node, SIGKILL after 5 s.
  local dir=$1 id pid
  for id in $(seq "$ETCD_NODES"); do
    pid=$(etcd_node_pid "$dir" "$id")
    if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for _ in $(seq 50); do
    local alive=0
    for id in $(seq "$ETCD_NODES"); do [[ -z "$(etcd_node_pid "$dir" "$id")" ]] || alive=1; done
    [[ $alive -eq 1 ]] || break
    sleep 0.1
  done
  for id in $(seq "$ETCD_NODES"); do etcd_kill_node "$dir" "$id"; done
}
