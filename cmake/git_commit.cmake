# Writes OUTPUT, a C++ file defining ppipe::kGitCommit: `git describe --always --dirty` of SOURCE_DIR
# when it is a git checkout, "" otherwise (a source tarball, or git missing). Run at every build
# (not only at configure time, where the commit would go stale after the next commit); the file
# is rewritten only when its text changes, so an unchanged commit recompiles nothing.
cmake_minimum_required(VERSION 3.18)
set(commit "")
if(EXISTS "${SOURCE_DIR}/.git")
  find_package(Git QUIET)
  if(GIT_FOUND)
    execute_process(COMMAND "${GIT_EXECUTABLE}" describe --always --dirty --abbrev=12
                    WORKING_DIRECTORY "${SOURCE_DIR}"
                    OUTPUT_VARIABLE commit RESULT_VARIABLE rc
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(NOT rc EQUAL 0)
      set(commit "")
    endif()
  endif()
endif()
file(CONFIGURE OUTPUT "${OUTPUT}"
     CONTENT "namespace ppipe { extern const char* const kGitCommit; const char* const kGitCommit = \"@commit@\"; }\n"
     @ONLY)
