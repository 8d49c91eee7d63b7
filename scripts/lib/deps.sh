# Debian packages the build, tests, demo and benchmarks need, and a function
# that installs the missing ones (apt-get as root, sudo otherwise).
SHORTCRED_PACKAGES=(
  cmake g++ make pkg-config
  libssl-dev libhiredis-dev libjsoncpp-dev libcurl4-openssl-dev libcpp-httplib-dev
  mosquitto mosquitto-dev libmosquitto-dev mosquitto-clients
  redis-server redis-tools openssl
  catch2 libbenchmark-dev
  python3-paho-mqtt  # the README's paho refresh recipe, run by tests/integration/broker/test_recipes.cpp
  clang libclang-rt-14-dev valgrind
  chromium  # headless, for the browser example's end-to-end test (tests/integration/browser)
  # the .deb files and their checks (tests/packaging)
  dpkg-dev file lintian help2man go-md2man man-db adduser curl systemd
)

ensure_packages() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing missing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      echo "error: missing packages (${missing[*]}) and no root or passwordless sudo to install them." >&2
      echo "Install them with: apt-get install ${missing[*]}" >&2
      exit 1
    fi
  fi
  # Debian's postinst would start system redis/mosquitto services; tests never
  # use them (they start their own on free ports), so keep them from starting.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
