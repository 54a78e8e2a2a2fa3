# FindAsio
# --------
# Finds standalone (non-Boost) Asio, header-only, e.g. Debian's libasio-dev
# (/usr/include/asio.hpp). Asio ships no CMake package, hence this module.
#
# Result variables:  Asio_FOUND, Asio_INCLUDE_DIR, Asio_VERSION
# Imported target:   Asio::Asio (INTERFACE; include dir + Threads::Threads)
#
# Installed next to unsyncConfig.cmake so that find_dependency(Asio) works for consumers.

find_path(Asio_INCLUDE_DIR NAMES asio.hpp
    DOC "Directory containing standalone Asio's asio.hpp")

if(Asio_INCLUDE_DIR AND EXISTS "${Asio_INCLUDE_DIR}/asio/version.hpp")
    file(STRINGS "${Asio_INCLUDE_DIR}/asio/version.hpp" _asio_version_line
        REGEX "^#define[ \t]+ASIO_VERSION[ \t]+[0-9]+")
    if(_asio_version_line MATCHES "ASIO_VERSION[ \t]+([0-9]+)")
        math(EXPR _asio_major "${CMAKE_MATCH_1} / 100000")
        math(EXPR _asio_minor "${CMAKE_MATCH_1} / 100 % 1000")
        math(EXPR _asio_patch "${CMAKE_MATCH_1} % 100")
        set(Asio_VERSION "${_asio_major}.${_asio_minor}.${_asio_patch}")
    endif()
    unset(_asio_version_line)
    unset(_asio_major)
    unset(_asio_minor)
    unset(_asio_patch)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Asio
    REQUIRED_VARS Asio_INCLUDE_DIR
    VERSION_VAR Asio_VERSION)
mark_as_advanced(Asio_INCLUDE_DIR)

if(Asio_FOUND AND NOT TARGET Asio::Asio)
    if(NOT TARGET Threads::Threads)
        set(THREADS_PREFER_PTHREAD_FLAG ON)
        find_package(Threads REQUIRED)
    endif()
    add_library(Asio::Asio INTERFACE IMPORTED)
    set_target_properties(Asio::Asio PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${Asio_INCLUDE_DIR}"
        INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()
