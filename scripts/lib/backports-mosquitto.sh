# Mosquitto 2.0.21 (built with WebSockets) from Debian bookworm-backports,
# unpacked into the build tree beside the system's 2.0.11, which stays
# installed: `apt-get download` + `dpkg-deb -x`, no system install.
# Usage: source it, then `backports_mosquitto DIR` prints the broker's path.
BACKPORTS_MOSQUITTO_VERSION=2.0.21

# `mosquitto -h` exits non-zero after printing its version, so its output is
# captured rather than piped (pipefail would fail the pipe).
is_backports_mosquitto() {
  [ -x "$1" ] || return 1
  local out
  out=$("$1" -h 2>&1 || true)
  [[ "$out" == *"version $BACKPORTS_MOSQUITTO_VERSION"* ]]
}

backports_mosquitto() {
  local dir="$1"
  local bin="$dir/root/usr/sbin/mosquitto"
  if is_backports_mosquitto "$bin"; then
    echo "$bin"
    return 0
  fi
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo -n)
  if ! apt-cache policy mosquitto 2>/dev/null | grep -q bookworm-backports; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" |
      "${sudo[@]}" tee /etc/apt/sources.list.d/shortcred-bookworm-backports.list >/dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  fi
  # Its shared libraries come from bookworm itself (backports is only for
  # packages asked for by name).
  ensure_packages libwebsockets17 libcjson1 libwrap0 libdlt2 >&2
  rm -rf "$dir" && mkdir -p "$dir/deb"
  (cd "$dir/deb" && apt-get download -qq "mosquitto/bookworm-backports" 2>/dev/null) >&2
  dpkg-deb -x "$dir"/deb/mosquitto_*.deb "$dir/root"
  is_backports_mosquitto "$bin" || {
    echo "error: $bin is not Mosquitto $BACKPORTS_MOSQUITTO_VERSION" >&2
    return 1
  }
  echo "$bin"
}
