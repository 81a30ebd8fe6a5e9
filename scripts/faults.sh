#!/usr/bin/env bash
# Runs the fault scenario suite (tests/integration/test_faults.c) in its full form - every
# connection of `mlinfra plan` and `mlinfra apply` faulted with every kind, plus the block
# uploads, the lease renewals, latency and the GitHub double's own failures - and prints a
# summary: scenarios run, outcomes by exit code, failures, notes, wall time.
#
#   scripts/faults.sh [options]
#
#   --build-dir DIR  the build to use, configured and built here (default build-faults)
#   --no-build       use the executables already in the build dir
#   --short          the short form (what ctest runs) instead of the full one
#   --log FILE       the suite's whole output (default <build dir>/faults.log)
#
# docs/hardening.md ("The scenario suite") says what is checked after each run. The full
# form takes about four minutes on two cores (six and a half in an ASan build); ctest runs
# the short form.
#
# Exit status: 0 when every scenario held, 1 when one did not, 2 on a usage or build error.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

build_dir="build-faults"
build=1
full=1
log=""

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift ;;
        --no-build) build=0 ;;
        --short) full=0 ;;
        --log) log="${2:?--log needs a file}"; shift ;;
        -h|--help) usage ;;
        *) echo "faults: unknown option $1" >&2; usage ;;
    esac
    shift
done
log="${log:-$build_dir/faults.log}"

if [ "$build" -eq 1 ]; then
    echo "faults: building in $build_dir" >&2
    mkdir -p "$build_dir"
    if ! cmake -S . -B "$build_dir" -DMLINFRA_TESTS=ON >"$build_dir/faults-configure.log" 2>&1; then
        cat "$build_dir/faults-configure.log" >&2
        exit 2
    fi
    cmake --build "$build_dir" -j"$(nproc)" --target mlinfra terraform_double faultproxy \
        integration_test_faults >&2 || exit 2
fi
[ -x "$build_dir/integration_test_faults" ] || { echo "faults: $build_dir/integration_test_faults is not built" >&2; exit 2; }

case "$build_dir" in
    /*) ;;
    *) build_dir="$root/$build_dir" ;;
esac
exe="$build_dir/integration_test_faults"
export MLINFRA_SOURCE_DIR="$root"
export MLINFRA_BINARY="$build_dir/mlinfra"
export MI_FAULTS_FULL="$full"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

form=$([ "$full" -eq 1 ] && echo full || echo short)
echo "faults: the $form form; output in $log" >&2
start=$(date +%s)
set +e
"$exe" --jobs=1 >"$log" 2>&1
status=$?
set -e
wall=$(( $(date +%s) - start ))

# One "[faults] scenario <command> <service> k=<n> "<request>" <kind> exit=<code> <time> ok|FAIL..."
# line per scenario; one "[faults] summary ..." line per test.
scenarios=$(grep -c '^\[faults\] scenario ' "$log" || true)
failed=$(grep '^\[faults\] scenario ' "$log" | grep -c ' FAIL: ' || true)
echo
echo "### $(date -u '+%Y-%m-%d %H:%M') UTC: the $form form"
echo
echo "Commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)');" \
    "$(nproc) CPU(s), load $(cut -d' ' -f1-3 /proc/loadavg); \`scripts/faults.sh$([ "$full" -eq 0 ] && echo ' --short')\`;" \
    "$(grep -q '^MLINFRA_SANITIZE:BOOL=ON' "$build_dir/CMakeCache.txt" 2>/dev/null && echo 'ASan+UBSan build' || echo 'normal build');" \
    "wall time ${wall} s."
echo
echo "| group | scenarios | exit 0 | exit 1 | exit 4 | other | failures | time (s) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
sed -n 's/^\[faults\] summary \(.*\): \([0-9]*\) scenarios, exit 0: \([0-9]*\), exit 1: \([0-9]*\), exit 4: \([0-9]*\), other: \([0-9]*\), failures: \([0-9]*\), \([0-9.]*\) s$/| \1 | \2 | \3 | \4 | \5 | \6 | \7 | \8 |/p' "$log"
awk '/^\[faults\] scenario / {
        n++
        for (i = 1; i <= NF; i++) if ($i ~ /^exit=/) { split($i, e, "="); code[e[2]]++ }
    }
    END {
        printf "| **total** | **%d** | **%d** | **%d** | **%d** | **%d** | **%d** | |\n", n,
            code[0], code[1], code[4], n - code[0] - code[1] - code[4], fails
    }' fails="$failed" "$log"
echo
echo "By kind (exit 0 / exit 1 / exit 4):"
echo
awk '/^\[faults\] scenario / {
        kind = ""; code = ""
        for (i = 1; i <= NF; i++) if ($i ~ /^exit=/) { split($i, e, "="); code = e[2]; kind = $(i - 1) }
        seen[kind]++; by[kind, code]++
    }
    END { for (k in seen) printf "- %s: %d scenarios (%d / %d / %d)\n", k, seen[k], by[k, 0], by[k, 1], by[k, 4] }' \
    "$log" | sort
notes=$(grep '^\[faults\] scenario .*; note: ' "$log" | sed 's/^\[faults\] scenario //' || true)
if [ -n "$notes" ]; then
    echo
    echo "Notes (the run held, and something is worth knowing):"
    echo
    while IFS= read -r n; do echo "- $n"; done <<<"$notes"
fi
if [ "$failed" -gt 0 ] || [ "$status" -ne 0 ]; then
    echo
    echo "Failures:"
    echo
    grep '^\[faults\] scenario .* FAIL: ' "$log" | sed 's/^\[faults\] scenario /- /' || true
    grep -E '^\[(FAIL|----)\]' "$log" | head -40 || true
fi
echo
echo "faults: $scenarios scenarios, $failed failed; suite exit status $status" >&2
if [ "$status" -ne 0 ] || [ "$failed" -gt 0 ] || [ "$scenarios" -eq 0 ]; then
    exit 1
fi
