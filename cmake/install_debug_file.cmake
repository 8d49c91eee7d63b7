# Install step of shortcred_split_debug_info: installs ${debug_file} as
# lib/debug/.build-id/<first two hex digits>/<rest>.debug, the layout gdb and
# Debian's -dbgsym packages use, with the build id read from the file.
execute_process(COMMAND readelf -n "${debug_file}" OUTPUT_VARIABLE notes
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT notes MATCHES "Build ID: ([0-9a-f][0-9a-f])([0-9a-f]+)")
  message(FATAL_ERROR "cannot read the build id of ${debug_file}: ${err}")
endif()
file(INSTALL "${debug_file}" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/debug/.build-id/${CMAKE_MATCH_1}"
     RENAME "${CMAKE_MATCH_2}.debug" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
