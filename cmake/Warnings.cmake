# Warnings are a property of our targets, never global flags: third-party
# headers stay out of it (they are included as SYSTEM by their imported targets).
add_library(shortcred_warnings INTERFACE)
add_library(shortcred::warnings ALIAS shortcred_warnings)
target_compile_options(shortcred_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX,C>:-Wall -Wextra -Wpedantic>)
