# Install step of shortcred_install_configured (packaging/CMakeLists.txt):
# writes ${src} to ${dest}/${name}, with the paths it names taken from the
# prefix given at install time (`cmake --install --prefix`, or /usr under
# CPack), so the installed tree is right wherever it is put.
#
# Relative directories follow GNUInstallDirs: <prefix>/<dir>, except that
# prefix /usr keeps its configuration in /etc (etc/... → /etc/...).
# Placeholders: @SHORTCRED_SBINDIR@, @SHORTCRED_SYSCONFDIR@; a `plugin ...`
# line becomes `plugin <libdir>/mosquitto/mosquitto_shortcred.so`.
function(shortcred_full_dir out rel)
  if(IS_ABSOLUTE "${rel}")
    set(${out} "${rel}" PARENT_SCOPE)
  elseif(CMAKE_INSTALL_PREFIX STREQUAL "/usr" AND rel MATCHES "^etc(/|$)")
    set(${out} "/${rel}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${rel}" PARENT_SCOPE)
  endif()
endfunction()

shortcred_full_dir(SHORTCRED_SBINDIR "${sbindir}")
shortcred_full_dir(SHORTCRED_SYSCONFDIR "${sysconfdir}")
shortcred_full_dir(libdir_full "${libdir}")
shortcred_full_dir(dest_full "${dest}")

file(READ "${src}" text)
string(CONFIGURE "${text}" text @ONLY)
string(REGEX REPLACE "(^|\n)plugin [^\n]*" "\\1plugin ${libdir_full}/mosquitto/mosquitto_shortcred.so"
       text "${text}")
file(WRITE "${staging}/${name}" "${text}")
file(INSTALL "${staging}/${name}" DESTINATION "${dest_full}" PERMISSIONS ${permissions})
