#!/usr/bin/env bash
# A local standalone cluster on loopback: one JobManager and N TaskManagers.
#
#   scripts/cluster.sh start [N] [SLOTS]   # default 2 TaskManagers with 2 slots each
#   scripts/cluster.sh status              # the JobManager's /overview
#   scripts/cluster.sh stop
#
# RUNNEL (the runnel binary, default: target/release/runnel, else on PATH),
# RUNNEL_REST_PORT (REST API and web UI, 8081), RUNNEL_RPC_PORT (where
# TaskManagers join, 6123) and RUNNEL_CLUSTER_DIR (pids and logs,
# default: $TMPDIR/runnel-cluster) change the defaults; a config file named by
# RUNNEL_CONFIG is passed to every process.
set -euo pipefail

dir="${RUNNEL_CLUSTER_DIR:-${TMPDIR:-/tmp}/runnel-cluster}"
port="${RUNNEL_REST_PORT:-8081}"
rpc_port="${RUNNEL_RPC_PORT:-6123}"
runnel="${RUNNEL:-}"
if [ -z "$runnel" ]; then
  here="$(cd "$(dirname "$0")/.." && pwd)"
  if [ -x "$here/target/release/runnel" ]; then runnel="$here/target/release/runnel"; else runnel=runnel; fi
fi

overview() {
  python3 - "$port" <<'PY'
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/overview", timeout=2) as r:
    print(json.dumps(json.load(r)))
PY
}

case "${1:-}" in
  start)
    n="${2:-2}"; slots="${3:-2}"
    mkdir -p "$dir"
    if [ -s "$dir/jobmanager.pid" ] && kill -0 "$(cat "$dir/jobmanager.pid")" 2>/dev/null; then
      echo "a cluster is already running (see $dir); stop it first" >&2; exit 1
    fi
    "$runnel" jobmanager --port "$port" --rpc-port "$rpc_port" > "$dir/jobmanager.log" 2>&1 &
    echo $! > "$dir/jobmanager.pid"
    for _ in $(seq 100); do overview > /dev/null 2>&1 && break; sleep 0.1; done
    overview > /dev/null || { echo "the JobManager did not start; see $dir/jobmanager.log" >&2; exit 1; }
    for i in $(seq "$n"); do
      "$runnel" taskmanager --jobmanager "127.0.0.1:$rpc_port" --slots "$slots" > "$dir/taskmanager-$i.log" 2>&1 &
      echo $! > "$dir/taskmanager-$i.pid"
    done
    for _ in $(seq 100); do
      [ "$(overview | python3 -c 'import json,sys; print(json.load(sys.stdin)["taskmanagers"])')" = "$n" ] && break
      sleep 0.1
    done
    echo "JobManager on http://127.0.0.1:$port/ (RPC 127.0.0.1:$rpc_port) with $n TaskManager(s); logs in $dir"
    overview
    ;;
  status)
    overview
    ;;
  stop)
    for pid_file in "$dir"/taskmanager-*.pid "$dir"/jobmanager.pid; do
      [ -f "$pid_file" ] || continue
      kill "$(cat "$pid_file")" 2>/dev/null || true
      rm -f "$pid_file"
    done
    echo "stopped"
    ;;
  *)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac
