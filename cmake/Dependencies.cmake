# Each dependency is found as a target: the package's CMake config first, then
# pkg-config with IMPORTED_TARGET. Debian 12 ships working configs for jsoncpp
# and Catch2, and only pkg-config files for mosquitto and cpp-httplib.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL REQUIRED)

# hiredis 1.x installs a usable `hiredis` config; Debian 12's 0.14.1 ships a
# HiredisConfigVersion.cmake that errors out, so only ask for the 1.x name.
find_package(hiredis 1 CONFIG QUIET)
if(TARGET hiredis::hiredis)
  set(SHORTCRED_HIREDIS hiredis::hiredis)
else()
  pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
  set(SHORTCRED_HIREDIS PkgConfig::HIREDIS)
endif()

# mosquitto ships no CMake config on Debian; the plugin needs only headers,
# the tests and benchmarks link libmosquitto.
pkg_check_modules(MOSQUITTO REQUIRED IMPORTED_TARGET libmosquitto)
find_path(MOSQUITTO_BROKER_INCLUDE_DIR mosquitto_broker.h REQUIRED)

find_package(jsoncpp CONFIG QUIET)
if(TARGET JsonCpp::JsonCpp)
  set(SHORTCRED_JSONCPP JsonCpp::JsonCpp)
elseif(TARGET jsoncpp_lib)
  set(SHORTCRED_JSONCPP jsoncpp_lib)
else()
  pkg_check_modules(JSONCPP REQUIRED IMPORTED_TARGET jsoncpp)
  set(SHORTCRED_JSONCPP PkgConfig::JSONCPP)
endif()

find_package(httplib CONFIG QUIET)
if(TARGET httplib::httplib)
  set(SHORTCRED_HTTPLIB httplib::httplib)
else()
  pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
  set(SHORTCRED_HTTPLIB PkgConfig::HTTPLIB)
endif()

find_package(CURL REQUIRED)
