#!/usr/bin/env bash
# The fault suite: a raftkv cluster on separate network hosts (namespaces), real faults, a
# checked history. See tests/faults/README.md.
#   tests/faults/run.sh [--nodes 5] [--minutes 2] [--seed S] [--schedule FILE] [--keep]
#                       [--break stale-reads] [--checker PATH|none] [--lazyfs PATH|none] ...
# Exit: 0 passed, 1 a check failed (seed, schedule, verdict and the results directory are
# printed), 2 the suite itself failed, 77 skipped (not root, or a tool is missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=(/usr/bin/python3 -B)  # -B: no __pycache__ in the source tree.

skip() {
  echo "faults: SKIPPED: $*" >&2
  exit 77
}
[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, iptables, tc)"
for tool in ip iptables iptables-restore tc; do
  command -v "$tool" >/dev/null || skip "$tool is missing (scripts/setup.sh installs it)"
done
[[ -x /usr/bin/python3 ]] && "${python[@]}" -c 'import redis' 2>/dev/null ||
  skip "/usr/bin/python3 with python3-redis is missing (scripts/setup.sh installs it)"

run_id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
probe=rkvf-$run_id-probe
ip netns add "$probe" 2>/dev/null || skip "cannot create network namespaces here"
ip netns del "$probe"

# Whatever happens to the orchestrator (a crash, kill -9, Ctrl-C), nothing of the run stays
# but its results (and, with --keep, the nodes' data).
work=/tmp/rkvf-$run_id
keep=
for arg in "$@"; do [[ $arg == --keep ]] && keep=1; done
cleanup() {
  "${python[@]}" "$here/netns.py" teardown "$run_id"
  # A lazyfs (--lazyfs) killed with the namespaces leaves its mount behind, unusable.
  awk -v work="$work/" 'index($2, work) == 1 { print $2 }' /proc/self/mounts |
    xargs -r umount -l
  [[ -n $keep ]] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

set +e
"${python[@]}" -u "$here/faults.py" --run-id "$run_id" --work "$work" "$@"
status=$?
set -e
exit $status
