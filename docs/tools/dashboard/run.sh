#!/usr/bin/env bash
# Renders docs/dashboard.png from a real run (not part of CI): redis-server,
# shortcred-tokend (--metrics-listen) and mosquitto with the plugin
# (plugin_opt_metrics_listen) on loopback, five orgs under load from
# load.mjs for SECONDS (default 150) with Redis stopped for 15 s in the
# middle, both /metrics endpoints scraped every second; then render.mjs
# draws the panels of docs/grafana-shortcred.json from those samples in
# headless Chromium. Needs node, npm and Debian's chromium.
#
#   docs/tools/dashboard/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../../.."
source scripts/lib/deps.sh
seconds=${1:-150}

ensure_packages "${SHORTCRED_PACKAGES[@]}" chromium
cmake --preset release >/dev/null
cmake --build --preset release -j 2 --target mosquitto_shortcred shortcred-tokend shortcredctl >/dev/null
build=$PWD/build/release
work=$PWD/build/dashboard
mkdir -p "$work"
# node resolves imports from the script's own directory: run copies beside node_modules.
cp docs/tools/dashboard/{package.json,package-lock.json,load.mjs,render.mjs} "$work/"
(cd "$work" && npm ci --no-audit --no-fund --loglevel=error)

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
wait_port() {
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  echo "error: nothing listens on port $1" >&2; exit 1
}
json_field() { sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p"; }

redis_port=$(free_port); http_port=$(free_port); tokend_metrics=$(free_port)
mqtt_port=$(free_port); broker_metrics=$(free_port)
redis_url=redis://127.0.0.1:$redis_port/0
ctl() { "$build/token-service/shortcredctl" --redis "$redis_url" "$@"; }
start_redis() {
  # A dump in the work dir, so the restart after the outage keeps the orgs and keys.
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$work" --dbfilename dashboard.rdb >>"$work/redis.log" 2>&1 &
  redis_pid=$!
  pids+=($redis_pid)
  wait_port "$redis_port"
}
rm -f "$work/dashboard.rdb" "$work"/*.log
start_redis

"$build/token-service/shortcred-tokend" --listen "127.0.0.1:$http_port" --redis "$redis_url" \
  --metrics-listen "127.0.0.1:$tokend_metrics" --issue-rate 0 >"$work/tokend.log" 2>&1 &
pids+=($!)
wait_port "$http_port"

cat >"$work/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous false
persistence false
log_dest file $work/mosquitto.log
listener $mqtt_port 127.0.0.1
plugin $build/plugin/mosquitto_shortcred.so
plugin_opt_redis_url $redis_url
plugin_opt_client_id_prefix %o/%u/
plugin_opt_metrics_listen 127.0.0.1:$broker_metrics
plugin_opt_metrics_top_orgs 3
# Every client of the load comes from 127.0.0.1: no per-address throttle.
plugin_opt_auth_fail_per_address 0
plugin_opt_revalidate_interval_s 5
CONF
[ "$(id -u)" -eq 0 ] && echo "user root" >>"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.stderr" 2>&1 &
pids+=($!)
wait_port "$mqtt_port"

keys="{"
for org in acme globex initech umbrella hooli; do
  ctl org create --id "$org" >/dev/null
  keys+="\"$org\":\"$(ctl --json apikey create --org "$org" --name dashboard | json_field api_key)\","
done
keys="${keys%,}}"
ctl org set globex --pub-rate 10 --pub_burst 10 >/dev/null
cat >"$work/load.json" <<JSON
{"tokend":"http://127.0.0.1:$http_port","mqtt_port":$mqtt_port,"seconds":$seconds,
 "broker_metrics":"http://127.0.0.1:$broker_metrics/metrics",
 "tokend_metrics":"http://127.0.0.1:$tokend_metrics/metrics",
 "samples":"$work/samples.jsonl","orgs":["acme","globex","initech","umbrella","hooli"],
 "keys":$keys}
JSON

echo "== load for $seconds s (Redis stopped from $((seconds / 2)) s for 15 s)"
node "$work/load.mjs" "$work/load.json" &
load_pid=$!
sleep $((seconds / 2))
redis-cli -p "$redis_port" save >/dev/null
kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
sleep 15
start_redis
wait "$load_pid"
curl -s "127.0.0.1:$broker_metrics/metrics" >"$work/broker-metrics.txt"
curl -s "127.0.0.1:$tokend_metrics/metrics" >"$work/tokend-metrics.txt"

node "$work/render.mjs" docs/grafana-shortcred.json "$work/samples.jsonl" docs/dashboard.png
echo "samples: $work/samples.jsonl; last scrapes: $work/broker-metrics.txt, $work/tokend-metrics.txt"
