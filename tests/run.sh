#!/usr/bin/env bash
# The test command: installs what is missing, builds, starts one local MariaDB fleet, runs
# every meson test suite in a normal build and in an ASan+UBSan build, checks formatting,
# and stops the fleet whatever happens.
#
#   tests/run.sh [--no-asan] [--no-fuzz]
#
# After the tests it runs every libFuzzer target of tests/fuzz/ for a bounded time
# (SLUICE_FUZZ_SECONDS each, default 30; needs clang).
# Environment:
#   SLUICE_TEST_BASE_PORT  first port of the fleet (default 21000; primary there, replicas
#                          on the next two ports)
#   SLUICE_FLEET_ARGS      extra arguments for `tests/fleet.sh start` (word-split)
# Tests find the fleet through SLUICE_FLEET_ENV (path of a fleet.env file, see fleet.sh).
# Ends with a line "N passed, M failed": the test cases (cmocka and pytest) of both runs,
# plus one failure for each build, format or meson step that failed; exits non-zero if
# anything failed.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd -P)

ASAN=1
FUZZ=1
for arg in "$@"; do
    case "$arg" in
    --no-asan) ASAN=0 ;;
    --no-fuzz) FUZZ=0 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "run.sh: unknown argument '$arg' (try --help)" >&2
        exit 2
        ;;
    esac
done

PASSED=0
FAILED=0
STEPS=()   # "name: result" lines for the summary
FLEET_DIR=""
LOG_DIR=$(mktemp -d /tmp/sluice-run.XXXXXX)

step() {
    echo
    echo "==== run.sh: $* ===="
}

record() {
    STEPS+=("$1: $2")
}

cleanup() {
    local rc=$?
    set +e
    if [[ -n "$FLEET_DIR" ]]; then
        step "stopping the fleet"
        "$ROOT/tests/fleet.sh" stop "$FLEET_DIR"
        if ((rc == 0 && FAILED == 0)); then
            rm -rf "$FLEET_DIR"
        else
            echo "run.sh: fleet data and server logs kept in $FLEET_DIR"
        fi
    fi
    rm -rf "$LOG_DIR"
    # The closing line counts test cases (cmocka and pytest), plus one failure for each
    # step (build, format check, a meson test without its own count) that failed.
    if [[ -n "$FINAL_LINE" ]]; then
        echo "$FINAL_LINE"
    fi
    exit "$rc"
}
FINAL_LINE=""
CASES_PASSED=0
CASES_FAILED=0

# Add the test cases that cmocka and pytest report in log $1 to the case totals.
count_cases() {
    local log=$1 n
    while read -r n; do CASES_PASSED=$((CASES_PASSED + n)); done < <(
        sed -nE 's/.*\[  PASSED  \] ([0-9]+) test\(s\).*/\1/p' "$log")
    while read -r n; do CASES_FAILED=$((CASES_FAILED + n)); done < <(
        sed -nE 's/.*\[  FAILED  \] ([0-9]+) test\(s\), listed below.*/\1/p' "$log")
    while read -r n; do CASES_PASSED=$((CASES_PASSED + n)); done < <(
        sed -nE 's/^=+ (.* )?([0-9]+) passed.* in [0-9.]+s.*=+$/\2/p' "$log")
    while read -r n; do CASES_FAILED=$((CASES_FAILED + n)); done < <(
        sed -nE 's/^=+ ([0-9]+) failed.* in [0-9.]+s.*=+$/\1/p; s/^=+ .*, ([0-9]+) failed.* in [0-9.]+s.*=+$/\1/p' "$log")
    while read -r n; do CASES_FAILED=$((CASES_FAILED + n)); done < <(
        sed -nE 's/^=+ (.* )?([0-9]+) errors? in [0-9.]+s.*=+$/\2/p' "$log")
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Add the counts from meson's summary ("Ok: 3", "Fail: 1", ...) in log $1 to the totals.
# Returns 1 if no summary was found.
count_meson() {
    local log=$1 ok xfail fail upass timeout
    if ! grep -qE '^Ok:[[:space:]]+[0-9]+' "$log"; then
        return 1
    fi
    ok=$(sed -nE 's/^Ok:[[:space:]]+([0-9]+).*/\1/p' "$log" | tail -n 1)
    xfail=$(sed -nE 's/^Expected Fail:[[:space:]]+([0-9]+).*/\1/p' "$log" | tail -n 1)
    fail=$(sed -nE 's/^Fail:[[:space:]]+([0-9]+).*/\1/p' "$log" | tail -n 1)
    upass=$(sed -nE 's/^Unexpected Pass:[[:space:]]+([0-9]+).*/\1/p' "$log" | tail -n 1)
    timeout=$(sed -nE 's/^Timeout:[[:space:]]+([0-9]+).*/\1/p' "$log" | tail -n 1)
    PASSED=$((PASSED + ${ok:-0} + ${xfail:-0}))
    FAILED=$((FAILED + ${fail:-0} + ${upass:-0} + ${timeout:-0}))
    LAST_COUNTS="ok=${ok:-0} fail=$((${fail:-0} + ${upass:-0} + ${timeout:-0}))"
    return 0
}

# meson setup, or reconfigure an existing build dir with the given options.
configure() {
    local dir=$1
    shift
    if [[ -f "$dir/meson-private/coredata.dat" ]]; then
        meson setup --reconfigure "$dir" "$@"
    else
        rm -rf "$dir"
        meson setup "$dir" "$@"
    fi
}

# Run `meson test` in build dir $1 (label $2) and add its results to the totals.
run_meson_tests() {
    local dir=$1 label=$2 log="$LOG_DIR/$2.log" rc
    step "meson test ($label)"
    set +e
    meson test -C "$dir" --print-errorlogs -v 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    LAST_COUNTS=""
    count_cases "$log"
    if count_meson "$log"; then
        record "tests ($label)" "$LAST_COUNTS"
        if ((rc != 0)) && ! grep -qE '^(Fail|Timeout|Unexpected Pass):[[:space:]]+[1-9]' "$log"; then
            FAILED=$((FAILED + 1)) # meson failed for another reason
            record "meson test ($label)" "FAILED (exit $rc)"
        fi
    elif grep -q 'No tests defined' "$log" && ((rc == 0)); then
        record "tests ($label)" "none defined"
    else
        FAILED=$((FAILED + 1))
        record "meson test ($label)" "FAILED (exit $rc, no summary; rebuild failure?)"
    fi
}

# --- (a) packages ----------------------------------------------------------------------
step "checking packages"
# shellcheck source=tests/lib-install.sh
source "$ROOT/tests/lib-install.sh"
sluice_install_packages

# --- (b) build -------------------------------------------------------------------------
BUILD_OK=0
step "meson setup build (-Dwerror=true) && ninja -C build"
if configure build -Dwerror=true && ninja -C build; then
    BUILD_OK=1
    record "build" "ok"
else
    FAILED=$((FAILED + 1))
    record "build" "FAILED"
fi

# --- (c) fleet -------------------------------------------------------------------------
# (Re)start a fresh fleet before each meson test run, so one run cannot leave state (tables,
# a stopped node, broken replication) that the next one trips over. Returns 1 on failure.
start_fleet() {
    if [[ -n "$FLEET_DIR" ]]; then
        "$ROOT/tests/fleet.sh" stop "$FLEET_DIR"
    else
        FLEET_DIR=$(mktemp -d /tmp/sluice-fleet.XXXXXX)
    fi
    step "starting the MariaDB fleet in $FLEET_DIR"
    # shellcheck disable=SC2086 # SLUICE_FLEET_ARGS is a word list on purpose
    if ! "$ROOT/tests/fleet.sh" start "$FLEET_DIR" \
        --base-port "${SLUICE_TEST_BASE_PORT:-21000}" ${SLUICE_FLEET_ARGS:-}; then
        FAILED=$((FAILED + 1))
        record "fleet start" "FAILED"
        return 1
    fi
    export SLUICE_FLEET_ENV="$FLEET_DIR/fleet.env"
    cat "$SLUICE_FLEET_ENV"
}

# --- (d) tests -------------------------------------------------------------------------
if ((BUILD_OK)) && start_fleet; then
    run_meson_tests build build
fi

# --- (e) sanitizers --------------------------------------------------------------------
if ((ASAN)); then
    step "meson setup build-asan (address,undefined) && ninja -C build-asan"
    if configure build-asan -Db_sanitize=address,undefined -Db_lundef=false \
        -Dbuildtype=debug && ninja -C build-asan; then
        record "build-asan" "ok"
        if start_fleet; then
            export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
            export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
            run_meson_tests build-asan build-asan
            unset ASAN_OPTIONS UBSAN_OPTIONS
        fi
    else
        FAILED=$((FAILED + 1))
        record "build-asan" "FAILED"
    fi
else
    record "build-asan" "skipped (--no-asan)"
fi

# --- (f) formatting --------------------------------------------------------------------
if [[ -f build/build.ninja ]] && ninja -C build -t targets all 2>/dev/null |
    grep -q '^clang-format-check:'; then
    step "ninja -C build clang-format-check"
    if ninja -C build clang-format-check; then
        record "clang-format-check" "ok"
    else
        FAILED=$((FAILED + 1))
        record "clang-format-check" "FAILED (run: ninja -C build clang-format)"
    fi
else
    record "clang-format-check" "skipped (no such target)"
fi

# --- (g) fuzzing -----------------------------------------------------------------------
# Each libFuzzer target for a bounded time on its seed corpus (tests/fuzz/run.sh), built
# with clang in build-fuzz. A crash, leak or sanitizer report fails the run.
if ((FUZZ)); then
    step "tests/fuzz/run.sh --seconds ${SLUICE_FUZZ_SECONDS:-30}"
    if tests/fuzz/run.sh --seconds "${SLUICE_FUZZ_SECONDS:-30}"; then
        record "fuzz" "ok"
    else
        FAILED=$((FAILED + 1))
        record "fuzz" "FAILED (crashing inputs kept in build-fuzz/fuzz-artifacts)"
    fi
else
    record "fuzz" "skipped (--no-fuzz)"
fi

# --- summary ---------------------------------------------------------------------------
step "summary"
for s in "${STEPS[@]}"; do
    echo "  $s"
done
echo "meson tests: $PASSED passed, $FAILED failed"
echo "test cases: $CASES_PASSED passed, $CASES_FAILED failed"
STEP_FAILURES=0
for s in "${STEPS[@]}"; do
    case "$s" in *FAILED*) STEP_FAILURES=$((STEP_FAILURES + 1)) ;; esac
done
TOTAL_FAILED=$((CASES_FAILED + STEP_FAILURES))
if ((FAILED > 0 && TOTAL_FAILED == 0)); then
    TOTAL_FAILED=$FAILED
fi
FINAL_LINE="$CASES_PASSED passed, $TOTAL_FAILED failed"
if ((FAILED > 0)); then
    exit 1
fi
