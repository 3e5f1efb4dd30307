#!/usr/bin/env bash
# raftkv-lincheck's contract with the fault suite: exit 0 linearizable, 1 violation, 2
# unreadable input, 3 undecided; what it prints. Usage: cli_test.sh path/to/raftkv-lincheck
set -euo pipefail
lincheck=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failures=0

# expect NAME WANTED_EXIT PATTERN -- ARGS...: runs the tool, checks the exit status and that
# stdout+stderr match PATTERN (grep -E).
expect() {
  local name=$1 wanted=$2 pattern=$3
  shift 4
  local status=0
  "$lincheck" "$@" >"$dir/out" 2>&1 || status=$?
  if [[ $status -ne $wanted ]] || ! grep -Eq "$pattern" "$dir/out"; then
    echo "FAIL $name: exit $status (wanted $wanted), output:"
    cat "$dir/out"
    failures=$((failures + 1))
  else
    echo "ok   $name"
  fi
}

cat >"$dir/linearizable.jsonl" <<'EOF'
{"id":1,"client":1,"f":"set","args":["x","1"],"invoke":0,"return":10,"status":"ok","result":"OK"}
{"id":2,"client":2,"f":"get","args":["x"],"invoke":20,"return":30,"status":"ok","result":"1"}
{"id":3,"client":3,"f":"append","args":["l","c3-1;"],"invoke":5,"status":"unknown"}
EOF
expect linearizable 0 'verdict: LINEARIZABLE' -- "$dir/linearizable.jsonl"
expect statistics 0 'time: [0-9.]+ s, [0-9]+ search steps' -- "$dir/linearizable.jsonl"

cat >"$dir/stale.jsonl" <<'EOF'
{"id":1,"client":1,"f":"set","args":["x","1"],"invoke":0,"return":10,"status":"ok","result":"OK"}
{"id":2,"client":2,"f":"get","args":["x"],"invoke":20,"return":30,"status":"ok","result":null}
EOF
expect violation 1 '#2 client 2 \[20, 30\] get "x" -> nil' -- "$dir/stale.jsonl"

cat >"$dir/malformed.jsonl" <<'EOF'
{"id":1,"client":1,"f":"get","args":["x"],"invoke":0,"return":1,"status":"ok","result":null}
{"id":2,"client":1,"f":"get","args":"x"}
EOF
expect malformed 2 'malformed.jsonl: line 2: args of get must be a list' -- "$dir/malformed.jsonl"
expect missing_file 2 'cannot open' -- "$dir/absent.jsonl"
expect usage 2 'file is required' --

# 2^40 subsets of unknown incrbys, then a read no subset explains: undecided in 0.2 s.
for i in $(seq 0 39); do
  printf '{"id":%d,"client":%d,"f":"incrby","args":["n","%d"],' "$i" "$i" $((1 << i))
  printf '"invoke":%d,"status":"unknown"}\n' "$i"
done >"$dir/adversarial.jsonl"
cat >>"$dir/adversarial.jsonl" <<'EOF'
{"id":99,"client":99,"f":"get","args":["n"],"invoke":1000,"return":1010,"status":"ok","result":"-1"}
EOF
expect undecided 3 'verdict: UNDECIDED' -- "$dir/adversarial.jsonl" --timeout-s 0.2

cat >"$dir/appends.jsonl" <<'EOF'
{"id":1,"client":1,"f":"append","args":["l","a;"],"invoke":0,"return":10,"status":"ok","result":2}
{"id":2,"client":2,"f":"append","args":["l","b;"],"invoke":0,"status":"unknown"}
{"final":{"l":"a;b;"},"node":1}
EOF
expect appends_clean 0 'appends exactly once, node 1: 2 appends checked, 0 offence' -- \
  "$dir/appends.jsonl"
sed -i 's/"a;b;"/"a;b;b;"/' "$dir/appends.jsonl"
expect appends_twice 1 'unknown append found 2 time\(s\) in the final value of "l"' -- \
  "$dir/appends.jsonl"

[[ $failures -eq 0 ]] || { echo "$failures case(s) failed"; exit 1; }
