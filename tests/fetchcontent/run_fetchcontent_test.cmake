# cmake -P script run by the `fetchcontent` CTest test: configures, builds and runs
# tests/fetchcontent, whose FetchContent_Declare takes this checkout instead of a clone.
# -DRUN=OFF builds without running (a consumer's flags the machine may not run, like TSan's).
cmake_minimum_required(VERSION 3.25)
foreach(_var SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER)
    if("${${_var}}" STREQUAL "")
        message(FATAL_ERROR "run_fetchcontent_test.cmake: -D${_var}=... is required")
    endif()
endforeach()
file(REMOVE_RECURSE "${WORK_DIR}")
set(_args -S "${SOURCE_DIR}/tests/fetchcontent" -B "${WORK_DIR}" -G "${GENERATOR}"
    -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
    "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
    # The standard override: FetchContent uses this directory and clones nothing.
    "-DFETCHCONTENT_SOURCE_DIR_UNSYNC=${SOURCE_DIR}"
    "-DUNSYNC_GIT_REPOSITORY=file:///nonexistent/unsync.git")
if(NOT "${MAKE_PROGRAM}" STREQUAL "")
    list(APPEND _args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
set(_steps configure build run)
if(DEFINED RUN AND NOT RUN)
    set(_steps configure build)
endif()
foreach(_step ${_steps})
    if(_step STREQUAL "configure")
        set(_cmd "${CMAKE_COMMAND}" ${_args})
    elseif(_step STREQUAL "build")
        set(_cmd "${CMAKE_COMMAND}" --build "${WORK_DIR}" -j 2)
    else()
        set(_cmd "${WORK_DIR}/app")
    endif()
    execute_process(COMMAND ${_cmd} RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "fetchcontent: ${_step} failed (${_rc})")
    endif()
endforeach()
message(STATUS "fetchcontent: OK")
