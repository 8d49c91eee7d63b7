#!/usr/bin/env bash
# Builds mosquitto_shortcred.so and bench/broker_load in RelWithDebInfo and runs
# the broker comparison (anonymous / password_file / dynamic-security /
# shortcred). Extra arguments go to broker_load, e.g. --seconds 10 --rounds 5.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build/release}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target mosquitto_shortcred broker_load -j "$(nproc)" >/dev/null
ulimit -n 65536 2>/dev/null || true
exec "$build/bench/broker_load" --plugin "$build/plugin/mosquitto_shortcred.so" "$@"
