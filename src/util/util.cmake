# Leaf utilities (src/util) shared by the CLI, the core, io and the expression library. They include
# nothing else of ppipe (scripts/check-layers). Paths are relative to this file, so that the fuzz
# build (tests/fuzz) can include it too.
add_library(ppipe_util STATIC
  ${CMAKE_CURRENT_LIST_DIR}/child_groups.cpp
  ${CMAKE_CURRENT_LIST_DIR}/fd_write.cpp
  ${CMAKE_CURRENT_LIST_DIR}/json_string.cpp
  ${CMAKE_CURRENT_LIST_DIR}/text_util.cpp
)
get_filename_component(PPIPE_UTIL_ROOT ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)
target_include_directories(ppipe_util PUBLIC ${PPIPE_UTIL_ROOT})
target_compile_options(ppipe_util PRIVATE -Wall -Wextra)
