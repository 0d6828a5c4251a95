# shellcheck shell=bash
# Shared by tests/bench/bench.sh and tests/bench/pool_bench.sh (source it; it defines
# functions only, and brings in tests/lib-proc.sh's).

# shellcheck source=tests/lib-proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib-proc.sh"

# bench_args NAME ARG...: the options both take. Sets QUICK, OUT and NO_BUILD; --help prints
# the calling script's header comment; an unknown argument exits 2.
bench_args() {
    local name=$1
    shift
    QUICK=0
    OUT=""
    NO_BUILD=0
    while (($#)); do
        case "$1" in
        --quick) QUICK=1; shift ;;
        --out) OUT=${2:?--out needs a directory}; shift 2 ;;
        --out=*) OUT=${1#*=}; shift ;;
        --no-build) NO_BUILD=1; shift ;;
        -h | --help) sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "$name: unknown argument '$1' (try --help)" >&2; exit 2 ;;
        esac
    done
}
