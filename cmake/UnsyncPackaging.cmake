# The Debian packages, built with CPack (scripts/build-deb.sh drives it).
#
# libunsync-dev holds the headers, the shared library (with its SONAME), the static library, the
# CMake package and the pkg-config file. The shared and the static library come from two builds:
# the one that runs CPack (normally BUILD_SHARED_LIBS=ON) installs everything, and the build named
# by UNSYNC_DEB_STATIC_BUILD_DIR contributes its archive alone.
# libunsync-mpi-dev, when the build has unsync::mpi, holds the `mpi` component: libunsync_mpi,
# <unsync/mpi.hpp>, its CMake targets and unsync-mpi.pc; it depends on libunsync-dev and Open MPI,
# which the core package does not.

set(UNSYNC_DEB_STATIC_BUILD_DIR "" CACHE PATH
    "A static build of unsync whose libunsync.a the Debian package also ships (optional)")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME libunsync-dev)
# One package per group: `dev` (the core: CMake's default component and `static`), `mpi`.
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ONE_PER_GROUP)
set(CPACK_COMPONENTS_ALL Unspecified)
set(CPACK_COMPONENT_UNSPECIFIED_GROUP dev)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libunsync-dev)
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

if(UNSYNC_MPI)
    list(APPEND CPACK_COMPONENTS_ALL mpi)
    set(CPACK_COMPONENT_MPI_GROUP mpi)
    set(CPACK_DEBIAN_MPI_PACKAGE_NAME libunsync-mpi-dev)
    set(CPACK_DEBIAN_MPI_PACKAGE_SECTION libdevel)
    set(CPACK_DEBIAN_MPI_DESCRIPTION
        "The MPI component (unsync::mpi): cpu_bound calls on the ranks of an MPI job.
A program linked with unsync::mpi and started by mpirun with more than one rank runs main() on
rank 0 and its cpu_bound calls on the other ranks, from the same source as for local worker
processes. This package holds libunsync_mpi, <unsync/mpi.hpp>, the CMake targets
(find_package(unsync COMPONENTS mpi)) and the pkg-config file unsync-mpi.")
    # Its library links libunsync from libunsync-dev, which dpkg-shlibdeps cannot see while both
    # are being built: the dependencies are named here instead.
    set(CPACK_DEBIAN_MPI_PACKAGE_SHLIBDEPS OFF)
    set(CPACK_DEBIAN_MPI_PACKAGE_DEPENDS
        "libunsync-dev (= ${PROJECT_VERSION}), libcereal-dev, libopenmpi-dev (>= 4.1), openmpi-bin (>= 4.1)")
endif()

set(CPACK_INSTALL_CMAKE_PROJECTS "${PROJECT_BINARY_DIR};unsync;ALL;/")
# The static build's archive, installed by this build into libunsync-dev (a second CPack project
# would not land in a component's package).
if(UNSYNC_DEB_STATIC_BUILD_DIR)
    install(FILES "${UNSYNC_DEB_STATIC_BUILD_DIR}/libunsync.a"
        DESTINATION "${CMAKE_INSTALL_LIBDIR}")
endif()

include(CPack)
