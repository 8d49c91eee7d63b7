#!/usr/bin/env bash
# As root: installs both .deb files (built by test_debs.sh), checks the files,
# the system user and the unit (systemd-analyze verify), runs
# shortcred-tokend exactly as the unit's ExecStart with the installed
# environment file (pointed at a test Redis on a free port) as the unit's
# user, mints a credential over HTTP, connects with it to a Mosquitto whose
# configuration includes the installed conf.d snippet, reinstalls (upgrade
# path; the edited conffile stays), then purges both and checks nothing is
# left. Never touches /usr/sbin/mosquitto or /etc/mosquitto/mosquitto.conf
# (checked). Exit 77 (skipped) when not root.
#   test_install.sh SOURCE_DIR
SRC=$(realpath "$1")
source "$SRC/tests/packaging/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIPPED: installing the .deb files needs root (run ./scripts/test as root)"
  exit 77
fi
[ -f "$PLUGIN_DEB" ] && [ -f "$TOKEND_DEB" ] || fail "no packages: run test_debs.sh first"

# One run at a time on a machine: runs from two checkouts would purge each
# other's packages.
exec 9>/run/lock/shortcred-packaging-test.lock
flock -w 900 9 || fail "another packaging test holds /run/lock/shortcred-packaging-test.lock"

work=$(mktemp -d /tmp/shortcred-install.XXXXXX)
chmod 755 "$work"   # mosquitto drops to its own user and reads from here
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # Never leave the packages behind, whatever failed.
  dpkg_waiting --purge shortcred-tokend mosquitto-shortcred >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
broker_files() { sha256sum /usr/sbin/mosquitto /etc/mosquitto/mosquitto.conf 2>/dev/null; }

step "a failed earlier run may have left the packages installed: purge them"
dpkg_waiting --purge shortcred-tokend mosquitto-shortcred >/dev/null 2>&1 || true
before=$(broker_files)
had_mosquitto_libdir=$([ -d "/usr/lib/$MULTIARCH/mosquitto" ] && echo yes || echo no)

step "dpkg -i"
dpkg_waiting -i "$PLUGIN_DEB" "$TOKEND_DEB" >"$work/dpkg-i.log" 2>&1 || { cat "$work/dpkg-i.log"; fail "dpkg -i"; }
installed mosquitto-shortcred && installed shortcred-tokend || fail "not installed"
dpkg -L mosquitto-shortcred shortcred-tokend | grep '^/' | grep -vx '/\.' | sort -u >"$work/files"
while read -r f; do [ -e "$f" ] || fail "listed but missing: $f"; done <"$work/files"
[ -f "$PLUGIN_SO" ] || fail "no $PLUGIN_SO"
[ "$(stat -c '%a %U' /etc/default/shortcred-tokend)" = "600 root" ] || fail "environment file mode"

step "the system user, and nothing enabled or started"
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd shortcred) || fail "no user shortcred"
[ "$uid" -lt 1000 ] || fail "shortcred is not a system user (uid $uid)"
[ "$(getent group shortcred | cut -d: -f3)" = "$gid" ] || fail "no group shortcred as primary group"
[ "$home" = /nonexistent ] && [ ! -e /nonexistent ] || fail "home $home"
[[ "$shell" == */nologin || "$shell" == /bin/false ]] || fail "login shell $shell"
[ ! -e /etc/systemd/system/multi-user.target.wants/shortcred-tokend.service ] || fail "enabled on install"
! pgrep -u shortcred >/dev/null || fail "something runs as shortcred after install"

step "systemd-analyze verify"
unit=/usr/lib/systemd/system/shortcred-tokend.service
systemd-analyze verify "$unit" || fail "systemd-analyze verify"
systemd-analyze security --offline=yes "$unit" 2>/dev/null | tail -1

step "shortcred-tokend as the unit starts it, against a test Redis"
# A port found free may be taken before redis binds it: try another then.
for attempt in 1 2 3; do
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$work" >"$work/redis.log" 2>&1 &
  redis_pid=$!
  if wait_for 20 redis-cli -p "$redis_port" ping >/dev/null 2>&1; then break; fi
  kill "$redis_pid" 2>/dev/null || true
  wait "$redis_pid" 2>/dev/null || true
  cat "$work/redis.log"
  [ "$attempt" -lt 3 ] || fail "redis did not start"
done
pids+=("$redis_pid")
api_port=$(free_port)
# What an operator does: edit the conffile.
sed -i "s|^SHORTCRED_LISTEN=.*|SHORTCRED_LISTEN=127.0.0.1:$api_port|;
        s|^SHORTCRED_REDIS_URL=.*|SHORTCRED_REDIS_URL=redis://127.0.0.1:$redis_port/0|" \
  /etc/default/shortcred-tokend
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
env_file=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$unit")
user=$(sed -n 's/^User=//p' "$unit")
[ "$env_file" = /etc/default/shortcred-tokend ] || fail "EnvironmentFile=$env_file"
mapfile -t env_lines < <(grep -E '^[A-Z_][A-Z0-9_]*=' "$env_file")
# systemd reads the file as root, then runs ExecStart as User= with no new
# privileges and a clean environment.
setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs \
  env -i "${env_lines[@]}" $exec_start >"$work/tokend.log" 2>&1 &
pids+=($!)
wait_for 10 grep -q "listening on 127.0.0.1:$api_port" "$work/tokend.log" ||
  { cat "$work/tokend.log"; fail "tokend did not start"; }
[ "$(ps -o user= -p "${pids[-1]}")" = shortcred ] || fail "tokend does not run as shortcred"

export SHORTCRED_REDIS_URL="redis://127.0.0.1:$redis_port/0"
/usr/bin/shortcredctl org create --id org_pkg --name "Package test" >/dev/null
key=$(/usr/bin/shortcredctl apikey create --org org_pkg --name ci | grep -o 'sk_[A-Za-z0-9_]*' | head -1)
[ -n "$key" ] || fail "no API key"
reply=$(curl -sS -X POST "http://127.0.0.1:$api_port/v2/tokens" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' -d '{"user_id":"alice","ttl_seconds":600}')
username=$(sed -n 's/.*"username":"\([^"]*\)".*/\1/p' <<<"$reply")
password=$(sed -n 's/.*"password":"\([^"]*\)".*/\1/p' <<<"$reply")
[ "$username" = alice@org_pkg ] && [[ "$password" == tkn_* ]] || fail "mint: $reply"

step "Mosquitto with the installed snippet in its conf.d"
mqtt_port=$(free_port)
mkdir -p "$work/conf.d"
sed "s|^plugin_opt_redis_url .*|plugin_opt_redis_url redis://127.0.0.1:$redis_port/0|" \
  /usr/share/shortcred/shortcred.conf >"$work/conf.d/shortcred.conf"
grep -qx "plugin $PLUGIN_SO" "$work/conf.d/shortcred.conf" || fail "snippet does not name $PLUGIN_SO"
cat >"$work/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous false
listener $mqtt_port 127.0.0.1
log_dest stderr
persistence false
include_dir $work/conf.d
CONF
mosquitto=${SHORTCRED_MOSQUITTO:-mosquitto}
"$mosquitto" -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids+=($!)
wait_for 10 grep -q "shortcred: loaded version $VERSION" "$work/mosquitto.log" ||
  { cat "$work/mosquitto.log"; fail "the broker did not load the installed plugin"; }
wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$mqtt_port" 2>/dev/null ||
  { cat "$work/mosquitto.log"; fail "broker not listening on $mqtt_port"; }
topic=org_pkg/users/alice/hello
# Retained, so the subscriber gets it whenever its SUBSCRIBE lands.
mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -u "$username" -P "$password" -i org_pkg/alice/pub \
  -t "$topic" -m from-the-package -q 1 -r || fail "publish with the minted credential"
received=$(mosquitto_sub -h 127.0.0.1 -p "$mqtt_port" -u "$username" -P "$password" \
  -i org_pkg/alice/sub -t "$topic" -C 1 -W 10) || fail "subscribe with the minted credential"
[ "$received" = from-the-package ] || fail "received '$received'"
if mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -u "$username" -P "tkn_wrong" -i org_pkg/alice/bad \
     -t "$topic" -m x 2>/dev/null; then
  fail "a wrong password was accepted"
fi

step "reinstall over the installed packages (upgrade path): the edited conffile stays"
dpkg_waiting -i "$PLUGIN_DEB" "$TOKEND_DEB" >"$work/dpkg-i2.log" 2>&1 || { cat "$work/dpkg-i2.log"; fail "dpkg -i again"; }
grep -qx "SHORTCRED_LISTEN=127.0.0.1:$api_port" /etc/default/shortcred-tokend || fail "conffile overwritten"

step "stop everything, dpkg --purge, nothing left"
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
pids=()
dpkg_waiting --purge shortcred-tokend mosquitto-shortcred >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg --purge"; }
for p in mosquitto-shortcred shortcred-tokend; do
  [ -z "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" ] || [ "$(dpkg-query -W -f='${Status}' "$p")" = "unknown ok not-installed" ] ||
    fail "$p still known to dpkg: $(dpkg-query -W -f='${Status}' "$p")"
  ! ls /var/lib/dpkg/info/"$p".* >/dev/null 2>&1 || fail "dpkg info files of $p left"
done
while read -r f; do
  # Directories other packages share (/usr/share/man/man1, ...) stay.
  [ -d "$f" ] && [ -n "$(ls -A "$f")" ] && continue
  [ ! -e "$f" ] || fail "left after purge: $f"
done <"$work/files"
[ ! -e /etc/default/shortcred-tokend ] || fail "conffile left"
[ ! -e /usr/share/shortcred ] || fail "/usr/share/shortcred left"
[ "$had_mosquitto_libdir" = yes ] || [ ! -e "/usr/lib/$MULTIARCH/mosquitto" ] || fail "plugin dir left"
! getent passwd shortcred >/dev/null || fail "user shortcred left"
! getent group shortcred >/dev/null || fail "group shortcred left"
! ls /var/lib/systemd/deb-systemd-helper-enabled/ 2>/dev/null | grep -q shortcred || fail "deb-systemd-helper state left"
[ "$(broker_files)" = "$before" ] || fail "the machine's mosquitto binary or mosquitto.conf changed"
echo "install, run, upgrade and purge OK"
