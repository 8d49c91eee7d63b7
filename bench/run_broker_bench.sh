#!/usr/bin/env bash
# Builds mosquitto_shortcred.so and bench/broker_load in RelWithDebInfo and runs
# the broker comparison (anonymous / password_file / dynamic-security /
# shortcred). Extra arguments go to broker_load, e.g.
#   --rounds 11 --seconds 3      interleaved throughput rounds (the default)
#   --pin                        brokers on CPU 0, load generator on CPU 1
#   --callgrind 20000            + broker instructions per delivery (valgrind)
#   --connects 0 --sessions 0    skip the connect-rate and memory parts
#   --many-brokers               + shortcred with presence off and with a global rate
# Throughput is reported as msg/s and as broker CPU µs per delivered message,
# median and interquartile range over the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build/release}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target mosquitto_shortcred broker_load -j "$(nproc)" >/dev/null
ulimit -n 65536 2>/dev/null || true
exec "$build/bench/broker_load" --plugin "$build/plugin/mosquitto_shortcred.so" "$@"
