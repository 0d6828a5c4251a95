#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/build.sh) and runs each one in turn, one
# process at a time, on a temporary copy of its seed corpus (tests/fuzz/corpus/<name>/),
# so new corpus entries never land in the tree.
#
#   tests/fuzz/run.sh [--seconds N] [--runs N] [--build-dir DIR] [TARGET...]
#
#   --seconds N    fuzz each target for N seconds (default 30 when --runs is not given)
#   --runs N       stop each target after N inputs (with --seconds too: whichever first)
#   --build-dir    the fuzz build directory (default build-fuzz at the top of the tree)
#   TARGET         codec, digest_rules, admin_sql, response, session (default: all)
#
# Prints one line per target: inputs executed, and whether it crashed (a sanitizer
# report, a failed check, a leak, a timeout or running out of memory). Crashing inputs
# and logs are kept in BUILD_DIR/fuzz-artifacts/<target>/. Exits 1 if any target
# crashed, 2 on a usage or build error. Needs clang, no network.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd -P)
SECONDS_PER=""
RUNS=""
BUILD="$ROOT/build-fuzz"
WANT=()

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

while (($#)); do
    case "$1" in
    --seconds) SECONDS_PER=${2:?--seconds needs a number}; shift 2 ;;
    --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
    --build-dir) BUILD=${2:?--build-dir needs a directory}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "run.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    *) WANT+=("$1"); shift ;;
    esac
done
for n in $SECONDS_PER $RUNS; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "run.sh: '$n' is not a number" >&2; exit 2; }
done
if [[ -z "$SECONDS_PER" && -z "$RUNS" ]]; then
    SECONDS_PER=30
fi

echo "==== fuzz: building in $BUILD ===="
if ! BINS=$(tests/fuzz/build.sh "$BUILD"); then
    echo "run.sh: build failed" >&2
    exit 2
fi

WORK=$(mktemp -d /tmp/sluice-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ARTIFACTS="$BUILD/fuzz-artifacts"

# Runs one target; prints its line and returns 1 if it crashed.
run_target() {
    local bin=$1 name=${1##*/fuzz_}
    local corpus="$WORK/$name" out="$ARTIFACTS/$name" log pid rc=0 execs
    local args=(-print_final_stats=1 -timeout=20 -rss_limit_mb=2048)

    rm -rf "$out"
    mkdir -p "$corpus" "$out"
    log="$out/fuzz.log"
    cp -R "$ROOT/tests/fuzz/corpus/$name/." "$corpus/"
    if [[ -n "$SECONDS_PER" ]]; then
        args+=(-max_total_time="$SECONDS_PER")
    fi
    if [[ -n "$RUNS" ]]; then
        args+=(-runs="$RUNS")
    fi
    # The pid names the admin target's private directory: removed below even after
    # a crash, when the target's own exit handler does not run.
    # SLUICE_FUZZ_HISTORY: where fuzz_admin_sql writes the inputs a failed check's
    # store state came from (see its file comment); the other targets ignore it.
    UBSAN_OPTIONS=print_stacktrace=1 SLUICE_FUZZ_HISTORY="$out/history" \
        "$bin" "${args[@]}" -artifact_prefix="$out/" "$corpus" >"$log" 2>&1 &
    pid=$!
    wait "$pid" || rc=$?
    rm -rf /dev/shm/sluice-fuzz-admin-"$pid"-* /tmp/sluice-fuzz-admin-"$pid"-*
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if ((rc == 0)); then
        printf '%-14s %12s inputs  ok\n' "$name" "${execs:-?}"
        rm -rf "$out"
        return 0
    fi
    printf '%-14s %12s inputs  CRASHED (exit %d)\n' "$name" "${execs:-?}" "$rc"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -n 5 | sed 's/^/    /'
    for a in "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-*; do
        [[ -e "$a" ]] && echo "    input: $a"
    done
    if [[ -d "$out/history" ]]; then
        echo "    state: $out/history/ (replay: $bin $out/history/*)"
    fi
    echo "    log:   $log"
    return 1
}

NAMES=" "
for bin in $BINS; do
    NAMES+="${bin##*/fuzz_} "
done
for t in "${WANT[@]}"; do
    if [[ "$NAMES" != *" $t "* ]]; then
        echo "run.sh: no target '$t' (targets:$NAMES)" >&2
        exit 2
    fi
done

echo "==== fuzz: each target for ${SECONDS_PER:-(no limit)} s, ${RUNS:-(no limit)} runs ===="
FAILED=0
for bin in $BINS; do
    name=${bin##*/fuzz_}
    if ((${#WANT[@]})) && [[ " ${WANT[*]} " != *" $name "* ]]; then
        continue
    fi
    run_target "$bin" || FAILED=$((FAILED + 1))
done
if ((FAILED)); then
    echo "run.sh: $FAILED target(s) crashed"
    exit 1
fi
echo "run.sh: no crashes"
