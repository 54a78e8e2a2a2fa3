#!/usr/bin/env bash
# The Debian packages as a user gets them: builds them (scripts/build-deb.sh), installs
# libunsync-dev with apt-get, builds tests/consumer against it with find_package (shared and
# static library) and with pkg-config, runs each; then installs libunsync-mpi-dev (when built)
# and does the same with unsync::mpi; and removes the packages. Run as root on a machine where
# neither is installed otherwise.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
[[ $(id -u) -eq 0 ]] || { echo "test-deb: run as root (apt-get install)" >&2; exit 1; }
if dpkg-query -W -f='${Status}' libunsync-dev 2>/dev/null | grep -q "install ok installed"; then
    echo "test-deb: libunsync-dev is already installed; remove it first" >&2
    exit 1
fi

scripts/build-deb.sh
deb=$(ls build/deb/libunsync-dev_*.deb | head -n1)
work=build/deb/consumer
rm -rf "$work"
mkdir -p "$work"

mpi_deb=$(ls build/deb/libunsync-mpi-dev_*.deb 2>/dev/null | head -n1 || true)

remove() {
    DEBIAN_FRONTEND=noninteractive apt-get remove -y libunsync-mpi-dev libunsync-dev \
        >/dev/null 2>&1 || true
}
trap remove EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "./$deb"
if dpkg -L libunsync-dev | grep -q -E 'mpi'; then
    echo "test-deb: libunsync-dev ships files of unsync::mpi:" >&2
    dpkg -L libunsync-dev | grep -E 'mpi' >&2
    exit 1
fi

# find_package, shared library (the default target) and static library.
cmake -S tests/consumer -B "$work/shared" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$work/shared"
"$work/shared/consumer"
# The loader may name the library through /lib (a link to /usr/lib on Debian 12), so compare
# the files themselves, not the paths as printed.
installed=$(dpkg -L libunsync-dev | grep -E '/libunsync\.so\.[0-9.]+$' | head -n1)
loaded=$(ldd "$work/shared/consumer" | awk '/libunsync\.so/ { print $3 }')
if [[ -z "$installed" || -z "$loaded" || $(readlink -f "$loaded") != $(readlink -f "$installed") ]]; then
    echo "test-deb: the consumer does not use the installed shared library" >&2
    echo "  installed: ${installed:-none}; loaded: ${loaded:-none}" >&2
    ldd "$work/shared/consumer" >&2
    exit 1
fi
cmake -S tests/consumer -B "$work/static" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DUNSYNC_CONSUMER_TARGET=unsync::unsync_static
cmake --build "$work/static"
"$work/static/consumer"
if ldd "$work/static/consumer" | grep -q libunsync; then
    echo "test-deb: the static consumer loads libunsync.so" >&2
    exit 1
fi

# pkg-config
# shellcheck disable=SC2046
c++ -O2 tests/consumer/main.cpp -o "$work/consumer_pkgconfig" $(pkg-config --cflags --libs unsync)
"$work/consumer_pkgconfig"

# unsync::mpi from its own package: find_package(unsync COMPONENTS mpi) and pkg-config.
mpi_note=""
if [[ -n "$mpi_deb" ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "./$mpi_deb"
    cmake -S tests/consumer -B "$work/mpi" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DUNSYNC_CONSUMER_TARGET=unsync::mpi -DUNSYNC_CONSUMER_COMPONENTS=mpi
    cmake --build "$work/mpi"
    "$work/mpi/consumer"
    # shellcheck disable=SC2046
    c++ -O2 tests/consumer/main.cpp -o "$work/consumer_pkgconfig_mpi" \
        $(pkg-config --cflags --libs unsync-mpi)
    "$work/consumer_pkgconfig_mpi"
    mpi_note="; $mpi_deb: find_package COMPONENTS mpi, pkg-config unsync-mpi"
fi

echo "test-deb: OK ($deb: find_package shared and static, pkg-config$mpi_note)"
