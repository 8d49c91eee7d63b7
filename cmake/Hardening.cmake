# The hardening Debian's own packages get from dpkg-buildflags
# (hardening=+all), as a property of our shipped targets: stack protector,
# format-string errors, fortified libc calls (they need optimisation, so not
# in Debug builds) and full RELRO with immediate binding. The sanitizer
# presets turn it off: ASan replaces the checks fortify adds.
option(SHORTCRED_HARDENING "Build shipped binaries with dpkg-buildflags' hardening" ON)
add_library(shortcred_hardening INTERFACE)
add_library(shortcred::hardening ALIAS shortcred_hardening)
if(SHORTCRED_HARDENING)
  target_compile_options(shortcred_hardening INTERFACE
    -fstack-protector-strong -fstack-clash-protection -Wformat -Werror=format-security)
  target_compile_definitions(shortcred_hardening INTERFACE
    $<$<NOT:$<CONFIG:Debug>>:_FORTIFY_SOURCE=2>)
  target_link_options(shortcred_hardening INTERFACE LINKER:-z,relro LINKER:-z,now)
endif()
