# The Debian package libunsync-dev, built with CPack (scripts/build-deb.sh drives it).
#
# One package holds headers, the shared library (with its SONAME), the static library, the CMake
# package and the pkg-config file. The shared and the static library come from two builds: the
# one that runs CPack (normally BUILD_SHARED_LIBS=ON) installs everything, and the build named by
# UNSYNC_DEB_STATIC_BUILD_DIR contributes its archive alone (the `static` install component).

set(UNSYNC_DEB_STATIC_BUILD_DIR "" CACHE PATH
    "A static build of unsync whose libunsync.a the Debian package also ships (optional)")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME libunsync-dev)
set(CPACK_PACKAGE_VENDOR "unsync")
set(CPACK_PACKAGE_CONTACT "unsync maintainers <maintainers@users.noreply.r-seed-1232cfb5.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "C++20 futures, an ambient event loop, a thread pool and a process pool")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "unsync brings Python's unsync to C++20: coroutines run on an ambient event loop in its own
thread, plain functions on a thread pool and CPU-bound functions on worker processes, and one
future type, Unfuture<T>, is awaitable, blockable with a timeout and chainable with then.
This package holds the headers, the shared and static libraries, the CMake package
(find_package(unsync)) and the pkg-config file.")
# The headers include Asio, and <unsync/process_pool.hpp> (cpu_bound) cereal, which only the
# programs that use it need; the C and C++ runtimes come from dpkg-shlibdeps on the shared library.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libasio-dev (>= 1:1.18)")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libcereal-dev")
if(UNSYNC_IO_URING)
    string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", liburing-dev")
endif()
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# A shlibs file, and the ldconfig trigger so that the loader's cache knows the library once
# installed (and forgets it once removed).
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${CMAKE_CURRENT_LIST_DIR}/deb/triggers")

set(CPACK_INSTALL_CMAKE_PROJECTS "${PROJECT_BINARY_DIR};unsync;ALL;/")
if(UNSYNC_DEB_STATIC_BUILD_DIR)
    list(APPEND CPACK_INSTALL_CMAKE_PROJECTS "${UNSYNC_DEB_STATIC_BUILD_DIR};unsync;static;/")
endif()

include(CPack)
