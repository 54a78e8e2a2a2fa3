#!/usr/bin/env bash
# unsync quickstart (Debian 12). Usage:
#   scripts/quickstart.sh demo   # install deps if missing, build the `release` preset, run the tour
#   scripts/quickstart.sh test   # install deps if missing (Open MPI too), build the `release`
#                                # preset, run ctest
# Works from any directory. Missing Debian packages are installed with apt-get when run as
# root; otherwise the script prints the apt-get command to run and exits 1.
set -euo pipefail

usage() {
    echo "usage: $0 {demo|test}" >&2
    exit 2
}

[[ $# -eq 1 ]] || usage
mode=$1
case "$mode" in demo | test) ;; *) usage ;; esac

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

# ---------------------------------------------------------------------------------------------
# 1. Dependencies (Debian packages only)
# ---------------------------------------------------------------------------------------------
packages=(g++ cmake ninja-build pkg-config libasio-dev libgtest-dev libcereal-dev)
# The test suite also covers unsync::mpi (cpu_bound calls on MPI ranks), which needs Open MPI.
if [[ $mode == test ]]; then
    packages+=(openmpi-bin libopenmpi-dev)
fi

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

ensure_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "quickstart: dpkg not found; this script targets Debian 12." >&2
        echo "quickstart: needed: ${packages[*]}" >&2
        exit 1
    fi
    local missing=() pkg
    for pkg in "${packages[@]}"; do
        is_installed "$pkg" || missing+=("$pkg")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        echo "quickstart: all required packages are installed"
        return 0
    fi
    echo "quickstart: missing packages: ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then
        echo "quickstart: not running as root; install them with:" >&2
        echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
}

ensure_packages

# ---------------------------------------------------------------------------------------------
# 2. Build and run
# ---------------------------------------------------------------------------------------------
preset=release
jobs=2

echo "quickstart: configuring preset '$preset'"
cmake --preset "$preset"

case "$mode" in
    demo)
        echo "quickstart: building the tour"
        cmake --build --preset "$preset" -j "$jobs" --target tour
        echo "quickstart: running build/$preset/examples/tour"
        "./build/$preset/examples/tour"
        ;;
    test)
        echo "quickstart: building everything"
        cmake --build --preset "$preset" -j "$jobs"
        echo "quickstart: running the test suite"
        ctest --preset "$preset"
        ;;
esac
