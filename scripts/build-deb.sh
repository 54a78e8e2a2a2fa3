#!/usr/bin/env bash
# Builds the Debian packages into build/deb/: libunsync-dev (shared + static library, headers,
# CMake package, pkg-config file) and libunsync-mpi-dev (unsync::mpi, shared). Usage:
# scripts/build-deb.sh. Needs the build dependencies (scripts/quickstart.sh installs them, Open
# MPI included) and dpkg-dev. Without Open MPI only libunsync-dev is built.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
out=build/deb
jobs=2

common=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DUNSYNC_BUILD_TESTS=OFF -DUNSYNC_BUILD_EXAMPLES=OFF
    -DUNSYNC_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX=/usr)

# The static build contributes libunsync.a alone: no unsync::mpi there.
cmake -S . -B "$out/static" "${common[@]}" -DBUILD_SHARED_LIBS=OFF -DUNSYNC_MPI=OFF
cmake --build "$out/static" -j "$jobs"
cmake -S . -B "$out/shared" "${common[@]}" -DBUILD_SHARED_LIBS=ON \
    "-DUNSYNC_DEB_STATIC_BUILD_DIR=$repo_root/$out/static"
cmake --build "$out/shared" -j "$jobs"
(cd "$out/shared" && cpack -G DEB -B "$repo_root/$out")
ls "$out"/*.deb
