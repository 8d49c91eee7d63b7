# The one version of every artefact: project(VERSION) in the top-level
# CMakeLists.txt. Targets that print it (--version, the plugin's load line,
# /metrics, the packages) link shortcred::version and read SHORTCRED_VERSION.
add_library(shortcred_version INTERFACE)
add_library(shortcred::version ALIAS shortcred_version)
target_compile_definitions(shortcred_version INTERFACE SHORTCRED_VERSION="${PROJECT_VERSION}")
