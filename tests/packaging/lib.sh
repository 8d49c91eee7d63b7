# Shared by the packaging tests: where the packages are, and small helpers.
# Sourced with SRC (the source tree) set.
set -euo pipefail

PKG_BUILD="$SRC/build/package"
VERSION=$(sed -n 's/^project(shortcred VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
ARCH=$(dpkg --print-architecture)
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
PLUGIN_DEB="$PKG_BUILD/mosquitto-shortcred_${VERSION}_${ARCH}.deb"
TOKEND_DEB="$PKG_BUILD/shortcred-tokend_${VERSION}_${ARCH}.deb"
PLUGIN_SO="/usr/lib/$MULTIARCH/mosquitto/mosquitto_shortcred.so"

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

# A TCP port on 127.0.0.1 that nothing listens on right now, above the
# kernel's default ephemeral range (32768-60999) and so apart from the
# C++ fixtures' ports (below it) that tests running beside this one take.
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((61000 + RANDOM % 4500))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  fail "no free port found"
}

# Polls (every 0.1 s, at most $1 seconds) until the command after it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# dpkg, waiting (up to 5 minutes) while another apt-get or dpkg holds its lock.
dpkg_waiting() {
  local out
  for _ in $(seq 300); do
    if out=$(dpkg "$@" 2>&1); then printf '%s\n' "$out"; return 0; fi
    grep -q "lock" <<<"$out" || { printf '%s\n' "$out"; return 1; }
    sleep 1
  done
  printf '%s\n' "$out"; return 1
}
