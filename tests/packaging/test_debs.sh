#!/usr/bin/env bash
# Builds the two .deb files from the `package` preset (RelWithDebInfo, prefix
# /usr, man pages) and checks what is in them: file lists and modes, control
# fields, conffiles, maintainer scripts, lintian (no errors), the man pages,
# and a `cmake --install --prefix` tree that points into its own prefix.
#   test_debs.sh SOURCE_DIR
SRC=$(realpath "$1")
source "$SRC/tests/packaging/lib.sh"
cd "$SRC"
log=$(mktemp -d /tmp/shortcred-debs.XXXXXX)
trap 'rm -rf "$log"' EXIT

step "release build and cpack (preset package, log in $PKG_BUILD)"
{ cmake --preset package && cmake --build --preset package && cpack --preset deb; } \
  >"$log/build.log" 2>&1 || { cat "$log/build.log"; fail "package build"; }
[ -f "$PLUGIN_DEB" ] && [ -f "$TOKEND_DEB" ] || fail "cpack made no $PLUGIN_DEB / $TOKEND_DEB"

step "file lists and modes"
for deb in "$PLUGIN_DEB" "$TOKEND_DEB"; do
  name=$(dpkg-deb -f "$deb" Package)
  dpkg-deb --contents "$deb" | awk '{print $1, $2, $6}' | sort -k3 >"$log/$name.contents"
  sed "s/@MULTIARCH@/$MULTIARCH/" "$SRC/tests/packaging/$name.contents" | sort -k3 >"$log/$name.expected"
  diff -u "$log/$name.expected" "$log/$name.contents" || fail "$name: file list differs (- expected, + in the .deb)"
done

step "control fields"
field() { dpkg-deb -f "$1" "$2"; }
expect_field() {  # deb field regex
  local v; v=$(field "$1" "$2")
  [[ "$v" =~ $3 ]] || fail "$(basename "$1"): $2 is '$v', expected /$3/"
}
for deb in "$PLUGIN_DEB" "$TOKEND_DEB"; do
  expect_field "$deb" Version "^$VERSION\$"
  expect_field "$deb" Architecture "^$ARCH\$"
  expect_field "$deb" Section '^net$'
  expect_field "$deb" Priority '^optional$'
  expect_field "$deb" Maintainer '^.+ <.+@.+>$'
  # dpkg-shlibdeps found the libraries the binaries link.
  expect_field "$deb" Depends 'libc6 \(>= [0-9.]+\)'
  expect_field "$deb" Depends 'libhiredis[0-9.]+ \(>= '
  expect_field "$deb" Depends 'libssl3 \(>= '
done
expect_field "$PLUGIN_DEB" Package '^mosquitto-shortcred$'
expect_field "$PLUGIN_DEB" Depends '(^|, )mosquitto \(>= 2\.0\)(,|$)'
expect_field "$TOKEND_DEB" Package '^shortcred-tokend$'
expect_field "$TOKEND_DEB" Depends '(^|, )adduser(,|$)'
expect_field "$TOKEND_DEB" Depends 'libjsoncpp[0-9]+ \(>= '
# The plugin package has no maintainer scripts and no conffiles (it enables
# nothing); the service package's only conffile is its environment file.
dpkg-deb --ctrl-tarfile "$PLUGIN_DEB" | tar -t | sort >"$log/plugin.ctrl"
diff -u <(printf './control\n./md5sums\n') "$log/plugin.ctrl" || fail "mosquitto-shortcred control members"
dpkg-deb --ctrl-tarfile "$TOKEND_DEB" | tar -t | sort >"$log/tokend.ctrl"
diff -u <(printf './conffiles\n./control\n./md5sums\n./postinst\n./postrm\n./prerm\n') "$log/tokend.ctrl" ||
  fail "shortcred-tokend control members"
dpkg-deb -I "$TOKEND_DEB" conffiles | diff -u <(echo /etc/default/shortcred-tokend) - || fail "conffiles"

step "binaries: stripped, with the version set in CMake"
dpkg-deb -x "$TOKEND_DEB" "$log/tokend-root"
dpkg-deb -x "$PLUGIN_DEB" "$log/plugin-root"
for f in "$log/tokend-root/usr/sbin/shortcred-tokend" "$log/tokend-root/usr/bin/shortcredctl" \
         "$log/plugin-root$PLUGIN_SO"; do
  [[ "$(file -b "$f")" == *", stripped"* ]] || fail "$f is not stripped"
done
[ "$("$log/tokend-root/usr/sbin/shortcred-tokend" --version)" = "shortcred-tokend $VERSION" ] || fail "tokend --version"
[ "$("$log/tokend-root/usr/bin/shortcredctl" --version)" = "shortcredctl $VERSION" ] || fail "shortcredctl --version"
for t in plugin/mosquitto_shortcred.so token-service/shortcred-tokend token-service/shortcredctl; do
  [ -s "$PKG_BUILD/$t.debug" ] || fail "no split debug file $t.debug"
  # (grep reads a variable: with pipefail, grep -q ending a pipe early fails it)
  sections=$(readelf -S "$PKG_BUILD/$t.debug" 2>/dev/null)
  grep -q '\.debug_info' <<<"$sections" || fail "$t.debug holds no debug info"
  sections=$(readelf -S "$PKG_BUILD/$t")
  grep -q '\.gnu_debuglink' <<<"$sections" || fail "$t has no debuglink"
done

step "binaries: hardened as dpkg-buildflags' hardening=+all (RELRO, BIND_NOW, stack protector, fortify)"
for f in "$log/tokend-root/usr/sbin/shortcred-tokend" "$log/tokend-root/usr/bin/shortcredctl" \
         "$log/plugin-root$PLUGIN_SO"; do
  headers=$(readelf -lW "$f"); dynamic=$(readelf -dW "$f"); imports=$(nm -D --undefined-only "$f")
  grep -q 'GNU_RELRO' <<<"$headers" || fail "$f has no RELRO segment"
  grep -q 'BIND_NOW' <<<"$dynamic" || fail "$f is not linked with -z now"
  grep -q ' __stack_chk_fail' <<<"$imports" || fail "$f is not built with a stack protector"
  fortified=$(grep -v '__stack_chk' <<<"$imports" | grep -E ' __[a-z_]+_chk' || true)
  [ -n "$fortified" ] || fail "$f calls no fortified libc function (_FORTIFY_SOURCE)"
done

step "README \"Runtime libraries\" names the Debian packages each binary links"
# NEEDED → the package holding it (dpkg -S), less what every C++ binary needs.
linked_packages() {
  readelf -dW "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | while read -r lib; do
    dpkg -S "*/$MULTIARCH/$lib" 2>/dev/null | head -1 | cut -d: -f1
  done | grep -vxE 'libc6|libgcc-s1|libstdc\+\+6' | sort -u | tr '\n' ' '
}
readme_packages() {  # the `pkg` names of the table row of binary $1
  sed -n '/^## Runtime libraries/,/^## [^R]/p' README.md | grep -F "| \`$1\` |" | head -1 | cut -d'|' -f3 | sed 's/(libcrypto)//; s/;.*//' |
    grep -oE '`[a-z0-9.+-]+`' | tr -d '`' | sort -u | tr '\n' ' '
}
for f in "$log/tokend-root/usr/sbin/shortcred-tokend" "$log/tokend-root/usr/bin/shortcredctl" \
         "$log/plugin-root$PLUGIN_SO"; do
  name=$(basename "$f")
  [ "$(readme_packages "$name")" = "$(linked_packages "$f")" ] ||
    fail "README Runtime libraries, $name: '$(readme_packages "$name")', it links '$(linked_packages "$f")'"
done

step "man pages render without warnings; mosquitto-shortcred(7) and the conf.d snippet name every plugin option"
for m in usr/share/man/man8/shortcred-tokend.8.gz usr/share/man/man1/shortcredctl.1.gz; do
  out=$(MANWIDTH=80 man -l "$log/tokend-root/$m" 2>&1 >/dev/null) || fail "man $m"
  [ -z "$out" ] || fail "man $m: $out"
done
seven="$log/plugin-root/usr/share/man/man7/mosquitto-shortcred.7.gz"
out=$(MANWIDTH=80 man -l "$seven" 2>&1 >/dev/null) || fail "man (7)"
[ -z "$out" ] || fail "man (7): $out"
MANWIDTH=200 man -l "$seven" 2>/dev/null >"$log/seven.txt"
MANWIDTH=200 man -l "$log/tokend-root/usr/share/man/man8/shortcred-tokend.8.gz" 2>/dev/null >"$log/eight.txt"
grep -q -- '--max-conns-per-ip' "$log/eight.txt" || fail "shortcred-tokend(8) lacks the flags of --help"
# The plugin's option table is the reference.
options=$(sed -n 's/.*{\.name = "\([a-z_]*\)".*/\1/p' plugin/src/options.cpp)
[ "$(wc -w <<<"$options")" -gt 10 ] || fail "no options found in plugin/src/options.cpp"
for o in $options; do
  # A tag line of OPTIONS (indented 7 columns), e.g. "pub_rate N, pub_burst N".
  grep -Eq "^ {7}([^ ].*, )?$o( |,|\$)" "$log/seven.txt" ||
    fail "mosquitto-shortcred(7) lacks option $o (packaging/man/mosquitto-shortcred.7.md)"
  # The conf.d snippet shows every option too, set or commented out.
  grep -Eq "^#?plugin_opt_$o( |\$)" "$log/plugin-root/usr/share/shortcred/shortcred.conf" ||
    fail "the conf.d snippet lacks plugin_opt_$o (conf/shortcred.conf)"
done

step "lintian (no errors)"
lintian --allow-root "$PLUGIN_DEB" "$TOKEND_DEB" >"$log/lintian.txt" 2>&1 || true
cat "$log/lintian.txt"
! grep -q '^E:' "$log/lintian.txt" || fail "lintian errors"

step "cmake --install --prefix: a tree that points into its own prefix"
prefix="$log/prefix"
cmake --install "$PKG_BUILD" --prefix "$prefix" >"$log/install.log" 2>&1 || { cat "$log/install.log"; fail "cmake --install"; }
if grep -v -e "Installing: $prefix/" -e "Up-to-date: $prefix/" -e "Install configuration" "$log/install.log"; then
  fail "installed outside $prefix"
fi
unit="$prefix/lib/systemd/system/shortcred-tokend.service"
grep -qx "ExecStart=$prefix/sbin/shortcred-tokend" "$unit" || fail "unit ExecStart: $(grep ExecStart "$unit")"
grep -qx "EnvironmentFile=-$prefix/etc/default/shortcred-tokend" "$unit" || fail "unit EnvironmentFile"
grep -qx "plugin $prefix/lib/$MULTIARCH/mosquitto/mosquitto_shortcred.so" "$prefix/share/shortcred/shortcred.conf" ||
  fail "snippet plugin line: $(grep ^plugin "$prefix/share/shortcred/shortcred.conf")"
[ -f "$prefix/lib/$MULTIARCH/mosquitto/mosquitto_shortcred.so" ] || fail "plugin not in the prefix"
[ "$(stat -c %a "$prefix/etc/default/shortcred-tokend")" = 600 ] || fail "environment file not 0600"
"$prefix/sbin/shortcred-tokend" --version >/dev/null && "$prefix/bin/shortcredctl" --version >/dev/null
systemd-analyze security --offline=yes "$unit" 2>/dev/null | tail -1
cmake --install "$PKG_BUILD" --prefix "$prefix" --component debug >"$log/install-debug.log" 2>&1 ||
  { cat "$log/install-debug.log"; fail "cmake --install --component debug"; }
[ "$(find "$prefix/lib/debug/.build-id" -name '*.debug' | wc -l)" = 3 ] || fail "debug files by build id"
echo "packages OK: $(basename "$PLUGIN_DEB") $(basename "$TOKEND_DEB")"
