# The expression language library (src/expr) and its unit tests.
# Included from the top-level CMakeLists.txt; paths are relative to this file.
add_library(ppipe_expr STATIC
  ${CMAKE_CURRENT_LIST_DIR}/builtins.cpp
  ${CMAKE_CURRENT_LIST_DIR}/eval.cpp
  ${CMAKE_CURRENT_LIST_DIR}/json_writer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/lexer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/parser.cpp
  ${CMAKE_CURRENT_LIST_DIR}/values.cpp
)
target_include_directories(ppipe_expr PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_options(ppipe_expr PRIVATE -Wall -Wextra)
# The only part of ppipe it uses is the leaf src/util (scripts/check-layers).
if(NOT TARGET ppipe_util)
  include(${CMAKE_CURRENT_LIST_DIR}/../util/util.cmake)
endif()
target_link_libraries(ppipe_expr PUBLIC ppipe_util simdjson::simdjson fmt::fmt PkgConfig::RE2)

set(PPIPE_EXPR_TEST_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/../../tests/unit/expr_parser_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../../tests/unit/expr_eval_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../../tests/unit/expr_alloc_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../../tests/unit/jq_fields_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../../tests/unit/jq_loops_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../../tests/unit/json_writer_test.cpp
)

# The general engine (src/expr/jq): jq's whole language, for what the fast path does not take.
target_sources(ppipe_expr PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/general.cpp
  ${CMAKE_CURRENT_LIST_DIR}/jq/builtins.cpp
  ${CMAKE_CURRENT_LIST_DIR}/jq/eval.cpp
  ${CMAKE_CURRENT_LIST_DIR}/jq/jq.cpp
  ${CMAKE_CURRENT_LIST_DIR}/jq/ops.cpp
  ${CMAKE_CURRENT_LIST_DIR}/jq/parse.cpp
  ${CMAKE_CURRENT_LIST_DIR}/jq/value.cpp
)
