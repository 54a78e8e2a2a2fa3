#!/usr/bin/env bash
# Builds the Debian package libunsync-dev (shared + static library, headers, CMake package,
# pkg-config file) into build/deb/. Usage: scripts/build-deb.sh
# Needs the build dependencies (scripts/quickstart.sh installs them) and dpkg-dev.
# The package is the core alone: unsync::mpi (UNSYNC_MPI) would make it depend on Open MPI.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
out=build/deb
jobs=2

common=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DUNSYNC_BUILD_TESTS=OFF -DUNSYNC_BUILD_EXAMPLES=OFF
    -DUNSYNC_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX=/usr -DUNSYNC_MPI=OFF)

cmake -S . -B "$out/static" "${common[@]}" -DBUILD_SHARED_LIBS=OFF
cmake --build "$out/static" -j "$jobs"
cmake -S . -B "$out/shared" "${common[@]}" -DBUILD_SHARED_LIBS=ON \
    "-DUNSYNC_DEB_STATIC_BUILD_DIR=$repo_root/$out/static"
cmake --build "$out/shared" -j "$jobs"
(cd "$out/shared" && cpack -G DEB -B "$repo_root/$out")
ls "$out"/*.deb
