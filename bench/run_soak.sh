#!/usr/bin/env bash
# Builds bench/soak (with mosquitto_shortcred.so, shortcred-tokend and
# shortcredctl) in the dev preset (BUILD_PRESET to change it) and runs it:
# real redis-server, two Mosquitto brokers with the plugin, shortcred-tokend,
# 500 churning clients and faults on a schedule, invariants checked
# throughout (see docs/SOAK.md). Extra arguments go to soak, e.g.
#   --minutes 10 --clients 500        the default
#   --seconds 60 --clients 60 --check the CI variant (CTest soak_60s)
#   --report FILE                     also write the report to FILE
# The broker is $SHORTCRED_MOSQUITTO (default: mosquitto on PATH). Exit
# status: 1 if an invariant was violated.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${BUILD_PRESET:-dev}
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" --target soak -j "${JOBS:-2}" >/dev/null
ulimit -n 65536 2>/dev/null || true
exec "build/$preset/bench/soak" "$@"
