#!/usr/bin/env bash
# The short form of scripts/fuzz.sh for CI: builds every tests/fuzz/fuzz_*.c target with clang
# in a scratch build directory and fuzzes each for a few seconds (MLINFRA_FUZZ_SMOKE_SECONDS;
# by default 10, less when there are more than 9 targets) on its seed corpus. Fails when a target crashes, leaks or does not build.
# A planted target with a reachable abort() shows first that a crash is caught and reported.
#
# It skips, saying why, when clang or libFuzzer (libclang-rt-14-dev) is missing, when there is
# no target yet, and in the sanitizer pass of scripts/test.sh: the fuzz targets carry ASan and
# UBSan already, so one run per CI job is enough.
set -euo pipefail
root="${MLINFRA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
seconds="${MLINFRA_FUZZ_SMOKE_SECONDS:-10}"

skip() {
    echo "SKIPPED: fuzz smoke: $*"
    exit 0
}

if [ -n "${MLINFRA_BUILD_DIR:-}" ] && grep -q '^MLINFRA_SANITIZE:BOOL=ON' "$MLINFRA_BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
    skip "sanitizer build; the fuzz targets run with ASan+UBSan in the normal pass"
fi
command -v clang >/dev/null || skip "clang is not installed (scripts/setup-debian.sh installs clang and libclang-rt-14-dev)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# libFuzzer comes with compiler-rt, a separate package from clang on Debian.
cat >"$tmp/planted.c" <<'EOF'
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 4 && data[0] == 'B' && data[1] == 'U' && data[2] == 'G' && data[3] == '!')
        abort();
    return 0;
}
EOF
mkdir -p "$tmp/planted-build"
if ! clang -g -O1 -fsanitize=fuzzer,address "$tmp/planted.c" -o "$tmp/planted-build/fuzz_planted" 2>"$tmp/clang.log"; then
    cat "$tmp/clang.log"
    skip "clang cannot link a libFuzzer target (install libclang-rt-14-dev)"
fi

shopt -s nullglob
sources=("$root"/tests/fuzz/fuzz_*.c)
[ "${#sources[@]}" -gt 0 ] || skip "no fuzz targets in tests/fuzz/"
# The fuzzing time stays within about 90 s however many targets there are (3 s each at least).
if [ -z "${MLINFRA_FUZZ_SMOKE_SECONDS:-}" ] && [ $((seconds * ${#sources[@]})) -gt 90 ]; then
    seconds=$((90 / ${#sources[@]}))
    [ "$seconds" -ge 3 ] || seconds=3
fi

# The planted crash must come out as a failed run with its input kept.
set +e
"$root/scripts/fuzz.sh" --no-build --build-dir "$tmp/planted-build" --out "$tmp/planted-out" \
    20 fuzz_planted >"$tmp/planted.md" 2>"$tmp/planted.log"
rc=$?
set -e
if [ "$rc" -ne 1 ] || ! grep -q '| fuzz_planted | .* | 1 | crash |' "$tmp/planted.md" \
    || [ -z "$(find "$tmp/planted-out/fuzz_planted/artifacts" -name 'crash-*' -type f)" ]; then
    echo "fuzz.sh did not report the planted crash (exit $rc):"
    cat "$tmp/planted.md" "$tmp/planted.log"
    exit 1
fi
echo "ok: a planted crash is caught and kept"

# The real targets. The scratch build lives in the ctest build directory when there is one,
# so that a second run only rebuilds what changed.
build="${MLINFRA_BUILD_DIR:+$MLINFRA_BUILD_DIR/fuzz-smoke}"
build="${build:-$tmp/fuzz-smoke}"
if ! "$root/scripts/fuzz.sh" --quick-build --build-dir "$build" --out "$tmp/out" "$seconds" \
    >"$tmp/report.md" 2>"$tmp/run.log"; then
    cat "$tmp/run.log" "$tmp/report.md"
    for log in "$tmp"/out/*/fuzz.log; do
        if grep -q 'ERROR\|==[0-9]*==' "$log"; then
            echo "--- $log"
            grep -A40 'ERROR' "$log" | head -n 80
        fi
    done
    exit 1
fi
cat "$tmp/report.md"
echo "fuzz smoke: ${#sources[@]} target(s) ran ${seconds} s each without a crash"
