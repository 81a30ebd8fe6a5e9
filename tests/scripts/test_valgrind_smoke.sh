#!/usr/bin/env bash
# The short form of scripts/valgrind.sh for CI: a planted Criterion test with a leak and an
# out-of-bounds read must be reported (so the check can fail: Criterion alone passes it), then
# the util unit tests (buffers, errors, logging, files: what every module uses) must come out
# of memcheck clean. The full run over every executable is scripts/valgrind.sh.
#
# It skips, saying why, when valgrind or the util tests are missing, and in the sanitizer
# pass of scripts/test.sh (valgrind cannot run ASan binaries).
set -euo pipefail
root="${MLINFRA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
build="${MLINFRA_BUILD_DIR:-$root/build}"

skip() {
    echo "SKIPPED: valgrind smoke: $*"
    exit 0
}

if grep -q '^MLINFRA_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
    skip "sanitizer build; valgrind runs in the normal pass"
fi
command -v valgrind >/dev/null || skip "valgrind is not installed (apt-get install valgrind)"
[ -x "$build/unit_test_util" ] || skip "no $build/unit_test_util to run"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/planted.c" <<'EOF'
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
Test(planted, leaks)
{
    char *p = malloc(100);
    memset(p, 'x', 100);
    cr_assert_eq(p[0], 'x');
}
Test(planted, reads_out_of_bounds)
{
    char *p = malloc(8);
    memset(p, 0, 8);
    volatile char c = p[8];
    (void)c;
    free(p);
}
EOF
mkdir -p "$tmp/planted-build"
read -ra criterion_flags <<<"$(pkg-config --cflags --libs criterion)"
cc -g -O0 "$tmp/planted.c" -o "$tmp/planted-build/unit_test_planted" "${criterion_flags[@]}"

set +e
"$root/scripts/valgrind.sh" --no-build --build-dir "$tmp/planted-build" --out "$tmp/planted-out" \
    >"$tmp/planted.md" 2>"$tmp/planted.log"
rc=$?
set -e
if [ "$rc" -ne 1 ] || ! grep -q '| unit_test_planted | 2 | 2 | .* | 100 | 0 | .* | memcheck errors |' "$tmp/planted.md"; then
    echo "valgrind.sh did not report the planted leak and invalid read (exit $rc):"
    cat "$tmp/planted.md" "$tmp/planted.log"
    exit 1
fi
echo "ok: a planted leak and invalid read are reported although Criterion passes both tests"

if ! "$root/scripts/valgrind.sh" --no-build --build-dir "$build" --out "$tmp/out" unit_test_util \
    >"$tmp/report.md" 2>"$tmp/run.log"; then
    cat "$tmp/run.log" "$tmp/report.md"
    for f in "$tmp"/out/*/vg.*.log "$tmp"/out/*/criterion.log; do
        [ -e "$f" ] && { echo "--- $f"; head -n 80 "$f"; }
    done
    exit 1
fi
cat "$tmp/report.md"
