# Release builds ship small binaries: after linking, the debug information of
# a target moves into <file>.debug beside it (objcopy --only-keep-debug), the
# binary is stripped and points at it (--add-gnu-debuglink, so gdb and
# valgrind find it in the build tree). `cmake --install --component debug`
# installs the debug files under lib/debug/.build-id/, where gdb looks them up
# by build id wherever the binary went. Debug builds are left as they are.
set(SHORTCRED_SPLIT_DEBUG_CONFIGS Release RelWithDebInfo MinSizeRel)

function(shortcred_split_debug_info target)
  if(NOT CMAKE_BUILD_TYPE IN_LIST SHORTCRED_SPLIT_DEBUG_CONFIGS OR NOT CMAKE_OBJCOPY)
    return()
  endif()
  set(file $<TARGET_FILE:${target}>)
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_OBJCOPY} --only-keep-debug ${file} ${file}.debug
    COMMAND ${CMAKE_OBJCOPY} --strip-unneeded --remove-section=.comment ${file}
    COMMAND ${CMAKE_COMMAND} -E chdir $<TARGET_FILE_DIR:${target}>
            ${CMAKE_OBJCOPY} --add-gnu-debuglink=$<TARGET_FILE_NAME:${target}>.debug
            $<TARGET_FILE_NAME:${target}>
    COMMENT "Splitting the debug information of ${target} into a .debug file"
    VERBATIM)
  install(CODE "set(debug_file \"${file}.debug\")
    include(\"${PROJECT_SOURCE_DIR}/cmake/install_debug_file.cmake\")"
    COMPONENT debug EXCLUDE_FROM_ALL)
endfunction()
