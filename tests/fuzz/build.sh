#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ in their own meson build directory:
# clang, ASan+UBSan, coverage instrumentation (-fsanitize=fuzzer-no-link) on every
# module, libFuzzer's main linked into the targets only. Only the targets and the
# libraries they need are compiled, one ninja job at a time.
#
#   tests/fuzz/build.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build-fuzz at the top of the tree (git ignores build-*).
# Prints the path of each target built, one a line. Needs clang (Debian's clang 14
# carries libFuzzer); no network.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd -P)
BUILD=${1:-$ROOT/build-fuzz}
TARGETS=(fuzz_codec fuzz_digest_rules fuzz_admin_sql fuzz_response fuzz_session)

if ! command -v clang >/dev/null; then
    echo "build.sh: clang not found (libFuzzer comes with it)" >&2
    exit 1
fi

# fuzzer-no-link instruments the libraries for coverage without pulling in
# libFuzzer's main; no-recover makes UBSan findings crash, so libFuzzer saves the
# input; b_lundef=false because sanitized clang links leave the sanitizer runtime
# symbols to the final link.
OPTIONS=(
    -Dfuzz=true
    -Dbuildtype=debugoptimized
    -Db_sanitize=address,undefined
    -Db_lundef=false
    "-Dc_args=['-fsanitize=fuzzer-no-link', '-fno-sanitize-recover=all']"
)
STAMP="$BUILD/fuzz-options.txt"

if [[ ! -f "$BUILD/build.ninja" ]]; then
    CC=clang meson setup "$BUILD" "${OPTIONS[@]}" >"$BUILD.setup.log" 2>&1 || {
        cat "$BUILD.setup.log" >&2
        exit 1
    }
    rm -f "$BUILD.setup.log"
elif [[ "$(cat "$STAMP" 2>/dev/null)" != "${OPTIONS[*]}" ]]; then
    # Configured by an older version of this script.
    meson configure "$BUILD" "${OPTIONS[@]}" >&2
fi
echo "${OPTIONS[*]}" >"$STAMP"

paths=()
for t in "${TARGETS[@]}"; do
    paths+=("tests/fuzz/$t")
done
ninja -C "$BUILD" -j 1 "${paths[@]}" >&2
for p in "${paths[@]}"; do
    echo "$BUILD/$p"
done
