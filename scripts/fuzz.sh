#!/usr/bin/env bash
# Builds every libFuzzer target (tests/fuzz/fuzz_*.c) with clang and runs each for a given time
# on a scratch copy of its seed corpus (tests/fuzz/corpus/<target>/, left untouched), then
# prints per target the executions, exec/s, time, new inputs and crashes as a markdown table.
#
#   scripts/fuzz.sh [options] [SECONDS] [TARGET...]
#
#   SECONDS          time per target (-max_total_time), default 60
#   TARGET...        only these targets (default: every tests/fuzz/fuzz_*.c)
#   --append         also append the table to docs/fuzzing.md (see --doc)
#   --doc FILE       the file --append writes to
#   --build-dir DIR  the clang build (default build-fuzz)
#   --out DIR        corpora, logs and crash artifacts (default fuzz-out)
#   --quick-build    -O1 with line tables only: a faster build for short runs (CI smoke test)
#   --no-build       use the binaries already in the build dir
#   -j N             targets fuzzed at the same time (default 1; each uses one core)
#
# Per target, fuzz-out/<target>/ holds fuzz.log, corpus/ (seeds plus what this run found) and
# artifacts/ (crash-*, leak-*, timeout-*, oom-* inputs; kept across runs). A crash ends that
# target's run early. Exit status: 0 when every target ran clean, 1 when one crashed or failed
# to run, 2 on a usage or build error.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

seconds=60
targets=()
append=0
doc=docs/fuzzing.md
build_dir="build-fuzz"
out_dir="fuzz-out"
quick=0
build=1
jobs=1

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --append) append=1 ;;
        --doc) doc="${2:?--doc needs a file}"; shift ;;
        --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift ;;
        --out) out_dir="${2:?--out needs a directory}"; shift ;;
        --quick-build) quick=1 ;;
        --no-build) build=0 ;;
        -j) jobs="${2:?-j needs a number}"; shift ;;
        -j[0-9]*) jobs="${1#-j}" ;;
        -h|--help) usage ;;
        -*) echo "fuzz: unknown option $1" >&2; usage ;;
        *)
            if [[ "$1" =~ ^[0-9]+$ ]] && [ "${#targets[@]}" -eq 0 ] && [ "$seconds" = 60 ]; then
                seconds="$1"
            else
                targets+=("$1")
            fi
            ;;
    esac
    shift
done
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz: bad time '$seconds'" >&2
    exit 2
fi
if ! [[ "$jobs" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz: bad -j '$jobs'" >&2
    exit 2
fi

if [ "${#targets[@]}" -eq 0 ]; then
    for src in tests/fuzz/fuzz_*.c; do
        [ -e "$src" ] || continue
        name="$(basename "$src" .c)"
        targets+=("$name")
    done
fi
if [ "${#targets[@]}" -eq 0 ]; then
    echo "fuzz: no fuzz targets (tests/fuzz/fuzz_*.c)" >&2
    exit 1
fi

# ---------------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------------
if [ "$build" -eq 1 ]; then
    command -v clang >/dev/null || { echo "fuzz: clang is missing (scripts/setup-debian.sh installs it)" >&2; exit 2; }
    for t in "${targets[@]}"; do
        [ -f "tests/fuzz/$t.c" ] || { echo "fuzz: no source tests/fuzz/$t.c" >&2; exit 2; }
    done
    cache="$build_dir/CMakeCache.txt"
    if [ -f "$cache" ] && ! grep -q '^CMAKE_C_COMPILER:.*clang' "$cache"; then
        echo "fuzz: $build_dir was configured without clang; remove it or pick another --build-dir" >&2
        exit 2
    fi
    config=(-DMLINFRA_FUZZ=ON -DMLINFRA_TESTS=OFF)
    if [ "$quick" -eq 1 ]; then
        config+=(-DCMAKE_BUILD_TYPE=None "-DCMAKE_C_FLAGS=-O1 -gline-tables-only")
    else
        config+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS=)
    fi
    echo "fuzz: building ${targets[*]} in $build_dir" >&2
    mkdir -p "$build_dir"
    if ! CC=clang cmake -S . -B "$build_dir" "${config[@]}" >"$build_dir/fuzz-configure.log" 2>&1; then
        cat "$build_dir/fuzz-configure.log" >&2
        exit 2
    fi
    cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]}" >&2 || exit 2
fi
for t in "${targets[@]}"; do
    [ -x "$build_dir/$t" ] || { echo "fuzz: $build_dir/$t was not built" >&2; exit 2; }
done

# ---------------------------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------------------------
mkdir -p "$out_dir"

# Fuzzes one target and leaves one tab-separated result line in $out_dir/<target>/result.
run_target() {
    local t="$1" dir="$out_dir/$1"
    local corpus="$dir/corpus" artifacts="$dir/artifacts" log="$dir/fuzz.log"
    rm -rf "$corpus"
    mkdir -p "$corpus" "$artifacts"
    local seeds=0
    if [ -d "tests/fuzz/corpus/$t" ]; then
        cp -R "tests/fuzz/corpus/$t/." "$corpus/"
        seeds="$(find "$corpus" -type f | wc -l)"
    fi
    local args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=25
                -artifact_prefix="$artifacts/")
    [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
    local marker="$dir/.started"
    : >"$marker"
    local start end rc=0
    start="$(date +%s.%N)"
    "$build_dir/$t" "${args[@]}" "$corpus" >"$log" 2>&1 || rc=$?
    end="$(date +%s.%N)"

    local execs rate new rss crashes status files
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)"
    new="$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -n1)"
    rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n1)"
    files="$(find "$artifacts" -type f -newer "$marker" | sort | tr '\n' ' ')"
    crashes="$(find "$artifacts" -type f -newer "$marker" | wc -l)"
    rm -f "$marker"
    if [ "$crashes" -gt 0 ]; then
        status=crash
    elif [ "$rc" -ne 0 ] || [ -z "$execs" ]; then
        status=failed
    else
        status=ok
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$seeds" "${execs:-?}" "${rate:-?}" \
        "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", b - a }')" "${new:-?}" \
        "$(find "$corpus" -type f | wc -l)" "${rss:-?}" "$crashes" "$status" "$files" >"$dir/result"
    echo "fuzz: $t: $status, ${execs:-?} executions, $crashes crash input(s)" >&2
}

echo "fuzz: ${#targets[@]} target(s), $seconds s each, $jobs at a time" >&2
running=0
for t in "${targets[@]}"; do
    mkdir -p "$out_dir/$t"
    rm -f "$out_dir/$t/result"
    run_target "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain -- agent tests/fuzz 2>/dev/null)" ]; then
    commit="$commit + uncommitted changes"
fi
cpu="$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n1)"
table="$(mktemp)"
trap 'rm -f "$table"' EXIT
status=0
{
    echo "### $(date -u '+%Y-%m-%d %H:%M UTC'): $seconds s per target"
    echo
    echo "Commit $commit; $(clang --version 2>/dev/null | head -n1); $(nproc) CPU(s) ${cpu:+($cpu)};" \
         "$jobs target(s) at a time$([ "$quick" -eq 1 ] && echo '; quick build (-O1)')."
    echo
    echo "| target | seeds | executions | exec/s | time (s) | new inputs | corpus | peak RSS (MB) | crashes | result |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    for t in "${targets[@]}"; do
        if [ ! -f "$out_dir/$t/result" ]; then
            echo "| $t | | | | | | | | | did not run |"
            status=1
            continue
        fi
        IFS=$'\t' read -r name seeds execs rate secs new corpus rss crashes result files <"$out_dir/$t/result"
        echo "| $name | $seeds | $execs | $rate | $secs | $new | $corpus | $rss | $crashes | $result |"
        [ "$result" = ok ] || status=1
    done
    for t in "${targets[@]}"; do
        [ -f "$out_dir/$t/result" ] || continue
        IFS=$'\t' read -r name _ _ _ _ _ _ _ _ result files <"$out_dir/$t/result"
        if [ "$result" = crash ]; then
            echo
            echo "- $name crash input(s): ${files% }"
        elif [ "$result" = failed ]; then
            echo
            echo "- $name did not run to the end: see $out_dir/$name/fuzz.log"
        fi
    done
} >"$table"

cat "$table"
if [ "$append" -eq 1 ]; then
    if [ ! -f "$doc" ]; then
        printf '# Fuzzing\n\n## Results\n' >"$doc"
    fi
    { echo; cat "$table"; } >>"$doc"
    echo "fuzz: appended to $doc" >&2
fi
exit "$status"
