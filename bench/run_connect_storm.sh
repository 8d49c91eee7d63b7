#!/usr/bin/env bash
# Mosquitto 2.1: delivery latency of 100 connected clients while 5 000 fresh
# clients connect, with the plugin's CONNECT lookups off the broker thread
# (plugin_opt_delayed_auth auto) and on it (off). Builds mosquitto_shortcred.so
# and bench/connect_storm in the dev preset (BUILD_PRESET to change it) and
# runs the comparison once per Redis delay in REDIS_DELAYS (default "0 1":
# direct, then behind a +1 ms per direction delay proxy). The broker is
# $SHORTCRED_MOSQUITTO and must be 2.1 (the delayed mode refuses to run
# otherwise). Extra arguments go to connect_storm, e.g.
#   --rounds 5 --connects 5000 --storm-threads 8 --rate 200 --receivers 100
# Figures: median [q1 .. q3] over the interleaved rounds (see docs/BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SHORTCRED_MOSQUITTO:?set SHORTCRED_MOSQUITTO to a Mosquitto 2.1 binary}"
export SHORTCRED_MOSQUITTO
preset=${BUILD_PRESET:-dev}
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" --target mosquitto_shortcred connect_storm -j "${JOBS:-2}" >/dev/null
ulimit -n 65536 2>/dev/null || true
for d in ${REDIS_DELAYS:-0 1}; do
  "build/$preset/bench/connect_storm" --plugin "build/$preset/plugin/mosquitto_shortcred.so" \
    --redis-delay-ms "$d" "$@"
done
