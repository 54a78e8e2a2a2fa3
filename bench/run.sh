#!/usr/bin/env bash
# One command for the side-by-side benchmarks (bench/README.md):
#   installs what is missing (apt-get, as root), configures and builds a release tree with the
#   benchmarks and peers (build/bench), runs every implementation on every workload of
#   shared/bench/WORKLOADS.md, alternating implementations, several repetitions, and prints a
#   markdown table of medians, each peer's ratio to unsync, ok flags and peak RSS.
#
# usage: bench/run.sh [--reps N] [--quick] [--micro] [--no-build] [--jobs J] [--nice N]
#                     [--build-dir DIR] [--workloads "spawn then ..."] [--impls "unsync asio ..."]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

reps=3
quick=0
micro=0
build=1
jobs=2
nice_level=0
build_dir="$repo/build/bench"
workloads="spawn await_chain submit pingpong then then@1000000 timers procs proc_trivial procs_mpi proc_trivial_mpi procs_mpi_tcp proc_trivial_mpi_tcp seed_sleep seed_then seed_mixing"
impls="unsync asio std tbb"

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --reps) reps="$2"; shift 2 ;;
        --quick) quick=1; shift ;;
        --micro) micro=1; shift ;;
        --no-build) build=0; shift ;;
        --jobs) jobs="$2"; shift 2 ;;
        --nice) nice_level="$2"; shift 2 ;;
        --build-dir) build_dir="$2"; shift 2 ;;
        --workloads) workloads="$2"; shift 2 ;;
        --impls) impls="$2"; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "run.sh: unknown argument: $1" >&2; usage 1 ;;
    esac
done
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --reps needs a positive integer" >&2; exit 1; }

# ---- packages ---------------------------------------------------------------------------------
need=(g++ cmake ninja-build pkg-config libasio-dev libcereal-dev libbenchmark-dev libtbb-dev time python3
    openmpi-bin libopenmpi-dev)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $(id -u) -eq 0 ]]; then
        echo "run.sh: installing ${missing[*]}" >&2
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    else
        echo "run.sh: missing packages; run as root: apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

# ---- build --------------------------------------------------------------------------------------
if [[ $build -eq 1 ]]; then
    gen=()
    command -v ninja >/dev/null && gen=(-G Ninja)
    if [[ -f "$build_dir/CMakeCache.txt" ]]; then gen=(); fi  # keep the generator it was made with
    echo "run.sh: configuring $build_dir (Release, UNSYNC_BUILD_BENCH=ON)" >&2
    cmake -S "$repo" -B "$build_dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
        -DUNSYNC_BUILD_BENCH=ON -DUNSYNC_BENCH_PEERS=ON -DUNSYNC_BUILD_TESTS=OFF \
        -DUNSYNC_BUILD_EXAMPLES=OFF -DUNSYNC_INSTALL=OFF >/dev/null
    echo "run.sh: building with -j$jobs (nice 10)" >&2
    nice -n 10 cmake --build "$build_dir" -j "$jobs" >&2
fi
bin_dir="$build_dir/bench"
[[ -x "$bin_dir/unsync_bench" ]] || { echo "run.sh: $bin_dir/unsync_bench not built" >&2; exit 1; }

# ---- N per workload -----------------------------------------------------------------------------
# Empty: the program's default (WORKLOADS.md). --quick: about a tenth, the seeds unchanged.
n_for() {
    local w="$1"
    case "$w" in
        *@*) echo "${w#*@}"; return ;;
    esac
    if [[ $quick -eq 1 ]]; then
        case "$w" in
            spawn) echo 20000 ;; await_chain) echo 100000 ;; submit) echo 20000 ;;
            pingpong) echo 5000 ;; then) echo 10000 ;; timers) echo 10000 ;;
            procs | procs_mpi*) echo 20 ;; proc_trivial | proc_trivial_mpi*) echo 1000 ;;
            *) echo "" ;;
        esac
    fi
}

# ---- the *_mpi workloads ------------------------------------------------------------------------
# procs / proc_trivial with unsync::mpi under mpirun -np 3 (rank 0 runs the workload, two ranks
# serve its calls), over shared memory (*_mpi) or TCP (*_mpi_tcp). unsync only; the others n/a.
mpi_command() { # usage: mpi_command WORKLOAD -> sets mpi_cmd, or returns 1 if not an MPI one
    local w="$1" btl=self,vader
    case "$w" in
        *_mpi) ;;
        *_mpi_tcp) btl=self,tcp ;;
        *) return 1 ;;
    esac
    mpi_cmd=(mpirun --oversubscribe -np 3 --mca btl "$btl" "$bin_dir/unsync_mpi_bench"
        "${w%%_mpi*}")
}
# Open MPI refuses root without these; the benchmark machine may be a root container.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# ---- runs ---------------------------------------------------------------------------------------
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out_dir="$build_dir/results/$stamp"
mkdir -p "$out_dir"
raw="$out_dir/raw.tsv"
: >"$raw"

read -r -a impl_list <<<"$impls"
read -r -a workload_list <<<"$workloads"
present=()
for impl in "${impl_list[@]}"; do
    if [[ -x "$bin_dir/${impl}_bench" ]]; then
        present+=("$impl")
    else
        echo "run.sh: no $bin_dir/${impl}_bench; $impl shows n/a" >&2
    fi
done

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r)"
    echo "compiler: $(c++ --version | head -1)"
    echo "commit: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet HEAD 2>/dev/null || echo ' (+ local changes)')"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "reps: $reps, quick: $quick, nice: $nice_level"
} >"$out_dir/conditions.txt"

total=$((reps * ${#workload_list[@]} * ${#present[@]}))
count=0
start_s=$(date +%s)
for ((rep = 0; rep < reps; ++rep)); do
    for ((wi = 0; wi < ${#workload_list[@]}; ++wi)); do
        wl="${workload_list[$wi]}"
        w="${wl%@*}"
        n="$(n_for "$wl")"
        # Alternate: each repetition and workload starts with a different implementation.
        k=${#present[@]}
        for ((j = 0; j < k; ++j)); do
            impl="${present[$(((j + rep + wi) % k))]}"
            count=$((count + 1))
            if [[ -t 2 ]]; then
                printf '\rrun.sh: [%d/%d] rep %d %-13s %-7s' "$count" "$total" "$((rep + 1))" "$wl" "$impl" >&2
            fi
            rss_file="$out_dir/rss.tmp"
            n_arg=()
            [[ -n "$n" ]] && n_arg=("$n")
            cmd=("$bin_dir/${impl}_bench" "$w")
            if mpi_command "$w"; then
                # Only unsync has them, built with unsync::mpi and with mpirun at hand.
                if [[ $impl != unsync || ! -x "$bin_dir/unsync_mpi_bench" ]] ||
                    ! command -v mpirun >/dev/null; then
                    continue
                fi
                cmd=("${mpi_cmd[@]}")
            fi
            set +e
            nice -n "$nice_level" /usr/bin/time -f '%M' -o "$rss_file" \
                timeout 300 "${cmd[@]}" "${n_arg[@]}" >"$out_dir/out.tmp" 2>>"$out_dir/stderr.log"
            rc=$?
            set -e
            line="$(grep '^RESULT' "$out_dir/out.tmp" | tail -1 || true)"
            rss="$(tail -1 "$rss_file" 2>/dev/null | grep -E '^[0-9]+$' || echo 0)"
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$wl" "$impl" "$rc" "$rss" "${n:-default}" "$line" >>"$raw"
        done
    done
    [[ -t 2 ]] || echo "run.sh: repetition $((rep + 1))/$reps done ($(( $(date +%s) - start_s )) s)" >&2
done
[[ -t 2 ]] && printf '\n' >&2
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); runs took $(( $(date +%s) - start_s )) s" >>"$out_dir/conditions.txt"
rm -f "$out_dir/out.tmp" "$out_dir/rss.tmp"

python3 "$here/aggregate.py" "$raw" "$out_dir/conditions.txt" "$workloads" "${present[*]}" | tee "$out_dir/table.md"
echo >&2
echo "run.sh: raw results in $raw, table in $out_dir/table.md" >&2

if [[ $micro -eq 1 && -x "$bin_dir/micro" ]]; then
    echo
    echo '```text'
    nice -n "$nice_level" "$bin_dir/micro" --benchmark_min_time=0.3 2>&1 | tee "$out_dir/micro.txt"
    echo '```'
fi
