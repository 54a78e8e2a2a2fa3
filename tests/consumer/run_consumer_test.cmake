# cmake -P script run by the `consumer` CTest test (see tests/CMakeLists.txt).
#   1. cmake --install <UNSYNC_BUILD_DIR> --prefix <WORK_DIR>/prefix
#   2. find_package flavour: configure + build tests/consumer against the prefix, run it; and the
#      core alone (core.cpp) with cereal's package disabled
#   3. pkg-config flavour: <CXX> main.cpp $(pkg-config --cflags --libs unsync), run it
# Uses the same C++ compiler (and CMAKE_CXX_FLAGS) as the main build.
cmake_minimum_required(VERSION 3.25)

foreach(_var UNSYNC_BUILD_DIR WORK_DIR CONSUMER_SOURCE_DIR GENERATOR CXX_COMPILER INSTALL_LIBDIR)
    if("${${_var}}" STREQUAL "")
        message(FATAL_ERROR "run_consumer_test.cmake: -D${_var}=... is required")
    endif()
endforeach()
if("${CONFIG}" STREQUAL "")
    set(CONFIG Release)
endif()

function(run_step what)
    message(STATUS "consumer: ${what}")
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE _rc COMMAND_ECHO STDOUT)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "consumer: ${what} failed (${_rc})")
    endif()
endfunction()

set(_prefix "${WORK_DIR}/prefix")
set(_build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# 1. install
run_step("install into ${_prefix}"
    "${CMAKE_COMMAND}" --install "${UNSYNC_BUILD_DIR}" --prefix "${_prefix}" --config "${CONFIG}")

# 2. find_package(unsync)
set(_configure_args -S "${CONSUMER_SOURCE_DIR}" -B "${_build}" -G "${GENERATOR}"
    "-DCMAKE_BUILD_TYPE=${CONFIG}"
    "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
    "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
    "-DCMAKE_PREFIX_PATH=${_prefix}"
    # only the freshly installed package may satisfy find_package(unsync)
    "-Dunsync_DIR=${_prefix}/${INSTALL_LIBDIR}/cmake/unsync"
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(NOT "${MAKE_PROGRAM}" STREQUAL "")
    list(APPEND _configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
run_step("configure (find_package)" "${CMAKE_COMMAND}" ${_configure_args})
run_step("build (find_package)" "${CMAKE_COMMAND}" --build "${_build}" --config "${CONFIG}")
set(_exe "${_build}/consumer")
if(NOT EXISTS "${_exe}" AND EXISTS "${_build}/${CONFIG}/consumer")
    set(_exe "${_build}/${CONFIG}/consumer")
endif()
run_step("run (find_package)" "${_exe}")

# 2b. the core alone, with cereal's package out of reach: find_package(unsync) needs no cereal
set(_core_args ${_configure_args})
list(TRANSFORM _core_args REPLACE "^${_build}$" "${_build}-core")
run_step("configure (core, no cereal)" "${CMAKE_COMMAND}" ${_core_args}
    -DUNSYNC_CONSUMER_SOURCE=core.cpp -DCMAKE_DISABLE_FIND_PACKAGE_cereal=ON)
run_step("build (core, no cereal)" "${CMAKE_COMMAND}" --build "${_build}-core" --config "${CONFIG}")

# 3. pkg-config
if("${PKG_CONFIG}" STREQUAL "")
    message(FATAL_ERROR "consumer: pkg-config not found (apt-get install pkg-config)")
endif()
set(ENV{PKG_CONFIG_PATH} "${_prefix}/${INSTALL_LIBDIR}/pkgconfig")
execute_process(COMMAND "${PKG_CONFIG}" --cflags --libs unsync
    OUTPUT_VARIABLE _pc_flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "consumer: pkg-config --cflags --libs unsync failed (${_rc})")
endif()
message(STATUS "consumer: pkg-config --cflags --libs unsync -> ${_pc_flags}")
separate_arguments(_pc_flags UNIX_COMMAND "${_pc_flags}")
separate_arguments(_cxx_flags UNIX_COMMAND "${CXX_FLAGS}")
run_step("build (pkg-config)"
    "${CXX_COMPILER}" ${_cxx_flags} "${CONSUMER_SOURCE_DIR}/main.cpp"
    -o "${WORK_DIR}/consumer_pkgconfig" ${_pc_flags})
# pkg-config gives no rpath; needed when BUILD_SHARED_LIBS=ON
set(ENV{LD_LIBRARY_PATH} "${_prefix}/${INSTALL_LIBDIR}:$ENV{LD_LIBRARY_PATH}")
run_step("run (pkg-config)" "${WORK_DIR}/consumer_pkgconfig")

# 4. unsync::mpi, when this build installed it: the same program linked with it, through
#    find_package(unsync COMPONENTS mpi) and through pkg-config unsync-mpi. Run without mpirun,
#    it uses local workers (test_mpi covers mpirun).
if(EXISTS "${_prefix}/${INSTALL_LIBDIR}/cmake/unsync/unsyncMpiTargets.cmake")
    set(_mpi_args ${_configure_args})
    list(TRANSFORM _mpi_args REPLACE "^${_build}$" "${_build}-mpi")
    run_step("configure (unsync::mpi)" "${CMAKE_COMMAND}" ${_mpi_args}
        -DUNSYNC_CONSUMER_TARGET=unsync::mpi -DUNSYNC_CONSUMER_COMPONENTS=mpi)
    run_step("build (unsync::mpi)" "${CMAKE_COMMAND}" --build "${_build}-mpi" --config "${CONFIG}")
    run_step("run (unsync::mpi)" "${_build}-mpi/consumer")
    execute_process(COMMAND "${PKG_CONFIG}" --cflags --libs unsync-mpi
        OUTPUT_VARIABLE _pc_mpi_flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "consumer: pkg-config --cflags --libs unsync-mpi failed (${_rc})")
    endif()
    separate_arguments(_pc_mpi_flags UNIX_COMMAND "${_pc_mpi_flags}")
    run_step("build (pkg-config unsync-mpi)"
        "${CXX_COMPILER}" ${_cxx_flags} "${CONSUMER_SOURCE_DIR}/main.cpp"
        -o "${WORK_DIR}/consumer_pkgconfig_mpi" ${_pc_mpi_flags})
    run_step("run (pkg-config unsync-mpi)" "${WORK_DIR}/consumer_pkgconfig_mpi")
endif()

message(STATUS "consumer: OK (find_package + pkg-config)")
