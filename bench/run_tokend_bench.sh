#!/usr/bin/env bash
# Token service load benchmark: a release build of shortcred-tokend against a
# local redis-server, with `redis-benchmark -t set -P 1` measured in the same
# run as the Redis ceiling. Figures go to docs/BENCHMARKS.md.
#
#   bench/run_tokend_bench.sh [--clients N] [--duration S] [--threads N]
#
# Environment: BUILD_DIR (default build/release; configured RelWithDebInfo).
set -euo pipefail
cd "$(dirname "$0")/.."

clients=32 duration=20 threads=64
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients=$2; shift ;;
    --duration) duration=$2; shift ;;
    --threads) threads=$2; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "run_tokend_bench.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

build=${BUILD_DIR:-build/release}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target shortcred-tokend shortcredctl tokend_load -j "$(nproc)" >/dev/null

work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free_port) hport=$(free_port)
redis_pid= tokend_pid=
cleanup() {
  [ -n "$tokend_pid" ] && kill "$tokend_pid" 2>/dev/null || true
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
  >"$work/redis.log" 2>&1 &
redis_pid=$!
until redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.05; done

echo "== machine: $(nproc) cores, $(uname -r), redis $(redis-server --version | awk '{print $3}')"
echo "== Redis ceiling: redis-benchmark -t set -P 1 -q (50 clients)"
redis-benchmark -p "$rport" -t set -P 1 -q -n 200000 | tr '\r' '\n' | grep -v '^$' | tail -1
redis-cli -p "$rport" flushall >/dev/null

ctl="$build/token-service/shortcredctl --redis redis://127.0.0.1:$rport/0"
$ctl org create --id org_bench >/dev/null
# A throughput benchmark: no per-user cap and no issuance rate (tokend's
# defaults, 100 live credentials per user and 50/s per key, would measure those).
$ctl org set org_bench --max_tokens_per_user 0 >/dev/null
key=$($ctl --json apikey create --org org_bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')

"$build/token-service/shortcred-tokend" --listen "127.0.0.1:$hport" \
  --redis "redis://127.0.0.1:$rport/0" --threads "$threads" --issue-rate 0 2>/dev/null &
tokend_pid=$!
until curl -s "http://127.0.0.1:$hport/healthz" >/dev/null; do sleep 0.05; done

echo "== tokend_load: $clients keep-alive clients, ${duration}s, tokend --threads $threads"
SHORTCRED_API_KEY=$key "$build/bench/tokend_load" --url "http://127.0.0.1:$hport" \
  --clients "$clients" --duration "$duration"
echo "== Redis after the run: $(redis-cli -p "$rport" dbsize) keys"
