#!/usr/bin/env bash
# Runs the unit and integration test executables of a normal (non-sanitizer) build under
# valgrind's memcheck and reports, per executable, the tests run, the memory errors and the
# definite and indirect leaks, as a markdown table.
#
#   scripts/valgrind.sh [options] [PATTERN...]
#
#   PATTERN...       only executables whose name contains one of these (e.g. unit_ faultproxy)
#   --build-dir DIR  the build to use, configured and built here (default build-valgrind)
#   --no-build       use the executables already in the build dir
#   --out DIR        per-process valgrind logs (default <build dir>/valgrind-out)
#   --append         also append the table to docs/hardening.md (see --doc)
#   --doc FILE       the file --append writes to
#   -j N             executables run at the same time (default 1)
#
# How it deals with Criterion: every test runs in a worker process that Criterion starts by
# re-executing the test binary, so --trace-children=yes is what puts the tests (and the
# mlinfra binary and the C doubles they start) under valgrind. Criterion does not fail a test
# whose worker valgrind flagged, so the verdict comes from the per-process logs
# (--log-file=.../vg.%p.log), not from exit codes. CRITERION_NO_EARLY_EXIT=1 makes workers
# return from main instead of _exit()ing, so what they free at the end is seen as freed.
# Node servers, git, openssl and the C test doubles are not traced (see $skip below).
# Executables run with --jobs=1, as under ctest.
#
# Exit status: 0 when every executable passed its tests with no error and no definite or
# indirect leak, 1 otherwise, 2 on a usage or build error.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

build_dir="build-valgrind"
out_dir=""
build=1
append=0
doc=docs/hardening.md
jobs=1
patterns=()

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift ;;
        --no-build) build=0 ;;
        --out) out_dir="${2:?--out needs a directory}"; shift ;;
        --append) append=1 ;;
        --doc) doc="${2:?--doc needs a file}"; shift ;;
        -j) jobs="${2:?-j needs a number}"; shift ;;
        -j[0-9]*) jobs="${1#-j}" ;;
        -h|--help) usage ;;
        -*) echo "valgrind: unknown option $1" >&2; usage ;;
        *) patterns+=("$1") ;;
    esac
    shift
done
if ! [[ "$jobs" =~ ^[1-9][0-9]*$ ]]; then
    echo "valgrind: bad -j '$jobs'" >&2
    exit 2
fi
command -v valgrind >/dev/null || { echo "valgrind: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }

if [ "$build" -eq 1 ]; then
    cache="$build_dir/CMakeCache.txt"
    if [ -f "$cache" ] && grep -q '^MLINFRA_SANITIZE:BOOL=ON' "$cache"; then
        echo "valgrind: $build_dir is a sanitizer build; valgrind needs a normal one" >&2
        exit 2
    fi
    echo "valgrind: building in $build_dir" >&2
    mkdir -p "$build_dir"
    if ! cmake -S . -B "$build_dir" -DMLINFRA_SANITIZE=OFF -DMLINFRA_FUZZ=OFF -DMLINFRA_TESTS=ON \
        >"$build_dir/valgrind-configure.log" 2>&1; then
        cat "$build_dir/valgrind-configure.log" >&2
        exit 2
    fi
    cmake --build "$build_dir" -j"$(nproc)" >&2 || exit 2
fi

exes=()
for f in "$build_dir"/unit_test_* "$build_dir"/integration_test_*; do
    if [ ! -f "$f" ] || [ ! -x "$f" ]; then continue; fi
    name="$(basename "$f")"
    if [ "${#patterns[@]}" -gt 0 ]; then
        keep=0
        for p in "${patterns[@]}"; do
            [[ "$name" == *"$p"* ]] && keep=1
        done
        [ "$keep" -eq 1 ] || continue
    fi
    exes+=("$name")
done
if [ "${#exes[@]}" -eq 0 ]; then
    echo "valgrind: no test executables in $build_dir${patterns:+ matching ${patterns[*]}}" >&2
    exit 2
fi

out_dir="${out_dir:-$build_dir/valgrind-out}"
mkdir -p "$out_dir"
out_abs="$(cd "$out_dir" && pwd)"
build_abs="$(cd "$build_dir" && pwd)"

# Not traced: node (Azurite, the GitHub and OIDC doubles), shells, git and openssl (third-party
# tools some tests run), and the C test doubles (the terraform double and the fault proxy):
# valgrind's slowdown breaks their time-limit tests, and the sanitizer build covers them.
skip='*node*,*azurite*,*/env,*/sh,*/bash,*/git,*/git-*,*git-core*,*openssl*,*/doubles/*,*/faultproxy'

# Runs one executable under valgrind and leaves one tab-separated result line in
# $out_dir/<exe>/result: name, tests, passed, failed, processes, errors, definite bytes,
# indirect bytes, possible bytes, exit code, seconds.
run_exe() {
    local name="$1" dir="$out_abs/$1"
    rm -rf "$dir"
    mkdir -p "$dir"
    local start end rc=0
    start="$(date +%s)"
    (
        cd "$build_abs"
        export MLINFRA_SOURCE_DIR="$root"
        export MLINFRA_BINARY="$build_abs/mlinfra"
        export CRITERION_NO_EARLY_EXIT=1
        timeout 3600 valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --error-exitcode=99 --trace-children=yes --child-silent-after-fork=yes \
            --trace-children-skip="$skip" \
            --num-callers=30 --log-file="$dir/vg.%p.log" \
            "./$name" --jobs=1 >"$dir/criterion.log" 2>&1
    ) || rc=$?
    end="$(date +%s)"

    local tests=0 passed=0 failed=0 synth
    synth="$(grep -a 'Synthesis:' "$dir/criterion.log" | tail -n1 || true)"
    if [ -n "$synth" ]; then
        tests="$(sed -n 's/.*Tested: \([0-9]*\).*/\1/p' <<<"$synth")"
        passed="$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$synth")"
        failed="$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$synth")"
    fi
    # Every log is a process valgrind traced; a log without a "Command:" line is one that
    # forked and was silenced, and says nothing.
    local procs=0 errors=0 def=0 ind=0 pos=0 f n
    for f in "$dir"/vg.*.log; do
        [ -e "$f" ] || continue
        procs=$((procs + 1))
        n="$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$f" | tail -n1 | tr -d ,)"
        errors=$((errors + ${n:-0}))
        n="$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$f" | tail -n1 | tr -d ,)"
        def=$((def + ${n:-0}))
        n="$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$f" | tail -n1 | tr -d ,)"
        ind=$((ind + ${n:-0}))
        n="$(sed -n 's/.*possibly lost: \([0-9,]*\) bytes.*/\1/p' "$f" | tail -n1 | tr -d ,)"
        pos=$((pos + ${n:-0}))
        # A clean log is noise once counted.
        if ! grep -q '[1-9][0-9,]* errors from\|lost: [1-9]\|Invalid\|uninitialised\|Process terminating' "$f"; then
            rm -f "$f"
        fi
    done
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$tests" "$passed" "$failed" \
        "$procs" "$errors" "$def" "$ind" "$pos" "$rc" "$((end - start))" >"$dir/result"
    echo "valgrind: $name: $passed/$tests passed, $errors error(s), $def+$ind bytes lost" >&2
}

echo "valgrind: ${#exes[@]} executable(s), $jobs at a time" >&2
running=0
for e in "${exes[@]}"; do
    run_exe "$e" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait

commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain -- agent tests 2>/dev/null)" ]; then
    commit="$commit + uncommitted changes"
fi
table="$(mktemp)"
trap 'rm -f "$table"' EXIT
status=0
total_err=0
total_def=0
total_ind=0
{
    echo "### $(date -u '+%Y-%m-%d %H:%M UTC'): valgrind memcheck over the test executables"
    echo
    echo "Commit $commit; $(valgrind --version); $(nproc) CPU(s); logs of flagged processes in $out_dir/<executable>/."
    echo
    echo "| executable | tests | passed | processes traced | errors | definitely lost (B) | indirectly lost (B) | possibly lost (B) | time (s) | verdict |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    for e in "${exes[@]}"; do
        if [ ! -f "$out_abs/$e/result" ]; then
            echo "| $e | | | | | | | | | did not run |"
            status=1
            continue
        fi
        IFS=$'\t' read -r name tests passed failed procs errors def ind pos rc secs <"$out_abs/$e/result"
        verdict=clean
        if [ "$tests" -eq 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -ne "$tests" ]; then
            verdict="tests failed (exit $rc)"
        elif [ "$errors" -ne 0 ] || [ "$def" -ne 0 ] || [ "$ind" -ne 0 ]; then
            verdict="memcheck errors"
        fi
        [ "$verdict" = clean ] || status=1
        total_err=$((total_err + errors))
        total_def=$((total_def + def))
        total_ind=$((total_ind + ind))
        echo "| $name | $tests | $passed | $procs | $errors | $def | $ind | $pos | $secs | $verdict |"
    done
    echo
    echo "Total: $total_err error(s), $total_def bytes definitely and $total_ind bytes indirectly lost."
} >"$table"

cat "$table"
if [ "$append" -eq 1 ]; then
    [ -f "$doc" ] || printf '# Hardening\n' >"$doc"
    { echo; cat "$table"; } >>"$doc"
    echo "valgrind: appended to $doc" >&2
fi
exit "$status"
