# CPack: one .deb per component. Depends comes from dpkg-shlibdeps (the
# libraries the binaries link), plus what the packages need at run time.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME shortcred)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${SHORTCRED_PACKAGE_CONTACT}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_COMPONENTS_ALL mosquitto-shortcred shortcred-tokend)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Maintainer scripts 0755 and conffiles 0644 whatever their modes in the tree.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_MOSQUITTO-SHORTCRED_PACKAGE_NAME mosquitto-shortcred)
set(CPACK_DEBIAN_MOSQUITTO-SHORTCRED_PACKAGE_SECTION net)
set(CPACK_DEBIAN_MOSQUITTO-SHORTCRED_PACKAGE_DEPENDS "mosquitto (>= 2.0)")
set(CPACK_COMPONENT_MOSQUITTO-SHORTCRED_DESCRIPTION
  "Mosquitto plugin checking short-lived credentials in Redis
mosquitto_shortcred.so authenticates MQTT clients whose short-lived
credentials (issued by shortcred-tokend) are stored in Redis, enforces
per-organisation and per-user ACLs and rate limits, and disconnects clients
when their credential expires or is revoked. An example conf.d snippet is
in /usr/share/shortcred; nothing is enabled in the broker by installing.")

set(CPACK_DEBIAN_SHORTCRED-TOKEND_PACKAGE_NAME shortcred-tokend)
set(CPACK_DEBIAN_SHORTCRED-TOKEND_PACKAGE_SECTION net)
set(CPACK_DEBIAN_SHORTCRED-TOKEND_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_SHORTCRED-TOKEND_PACKAGE_SUGGESTS "redis-server (>= 5:7.0), mosquitto-shortcred")
set(CPACK_DEBIAN_SHORTCRED-TOKEND_PACKAGE_CONTROL_EXTRA
  ${CMAKE_CURRENT_SOURCE_DIR}/deb/shortcred-tokend/conffiles
  ${CMAKE_CURRENT_SOURCE_DIR}/deb/shortcred-tokend/postinst
  ${CMAKE_CURRENT_SOURCE_DIR}/deb/shortcred-tokend/prerm
  ${CMAKE_CURRENT_SOURCE_DIR}/deb/shortcred-tokend/postrm)
set(CPACK_COMPONENT_SHORTCRED-TOKEND_DESCRIPTION
  "token service issuing short-lived MQTT credentials into Redis
shortcred-tokend exchanges an organisation API key for short-lived MQTT
credentials over HTTP and stores them in Redis for the mosquitto-shortcred
plugin; shortcredctl administers organisations, API keys and credentials.
Ships a hardened systemd unit (not enabled on install) reading
/etc/default/shortcred-tokend, and runs as the system user shortcred.")

include(CPack)
