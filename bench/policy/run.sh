#!/usr/bin/env bash
# bench/policy: the compliance engine (`mlinfra check`, issue 3).
#
#  1. big plan: a generated `terraform show -json` plan of 10,000 resource changes (about
#     100 MB, bench/policy/gen_plan.py) against the 20 policies in bench/policy/policies/
#     (every family of step: selection, drill-down, regexes, equality, numbers, outlines,
#     `resource that supports tags` over all resources, counting). Reported: wall time and
#     peak RSS of `mlinfra check` (median of RUNS), and RSS as a multiple of the JSON size.
#     Goals: under 2 s and under 4x the JSON size.
#  2. corpus: the whole terraform-compliance functional suite (89 cases, one process each),
#     end to end through the judge (tests/fixtures/terraform-compliance), and the same 89
#     `mlinfra check` runs from a shell loop without the judge. Goal: the suite under 2 s
#     (the original tool: about 77 s).
#
#   bench/policy/run.sh          RUNS=5 by default; BUILD_DIR to reuse a build; N=changes
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=${BUILD_DIR:-$root/build-bench-policy}
runs=${RUNS:-5}
n=${N:-10000}
out="$root/bench/out/policy"
mkdir -p "$out"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMLINFRA_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target mlinfra >/dev/null
bin="$build/mlinfra"

plan="$out/plan-$n.json"
if [ ! -s "$plan" ]; then
    echo "generating $plan ..."
    python3 bench/policy/gen_plan.py "$n" "$plan"
fi
bytes=$(stat -c %s "$plan")

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

echo "== big plan: $n resource changes, $((bytes / 1000000)) MB, 20 policies, $runs runs"
: >"$out/big.txt"
for _ in $(seq "$runs"); do
    set +e
    /usr/bin/time -f "%e %M %U %S" -o "$out/time.txt" "$bin" check --plan "$plan" \
        --policies bench/policy/policies --format json >"$out/big.json"
    rc=$?
    set -e
    [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || { echo "mlinfra check failed (exit $rc)"; exit 1; }
    cat "$out/time.txt" >>"$out/big.txt"
done
wall=$(awk '{print $1}' "$out/big.txt" | median)
rss=$(awk '{print $2}' "$out/big.txt" | median)
cpu=$(awk '{print $3 + $4}' "$out/big.txt" | median)
ratio=$(awk -v r="$rss" -v b="$bytes" 'BEGIN {printf "%.2f", r * 1024 / b}')
scen=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); s=d["summary"]["scenarios"]; print("%d scenarios: %d passed, %d failed, %d skipped" % (s["total"], s["passed"], s["failed"], s["skipped"]))' "$out/big.json")
echo "   $scen"
echo "   wall ${wall} s (median), CPU ${cpu} s, peak RSS $((rss / 1024)) MiB = ${ratio}x the JSON"

echo "== corpus: 89 cases, $runs runs"
cases="$root/tests/fixtures/terraform-compliance/cases"
: >"$out/judge.txt"
: >"$out/loop.txt"
for _ in $(seq "$runs"); do
    start=$(date +%s.%N)
    python3 tests/fixtures/terraform-compliance/run-terraform-compliance-corpus --bin "$bin" \
        --cases "$cases" >"$out/judge.log"
    end=$(date +%s.%N)
    echo "$end - $start" | bc >>"$out/judge.txt"
    start=$(date +%s.%N)
    for c in "$cases"/*/; do
        [ -f "$c/test.feature" ] || continue
        extra=()
        [ -f "$c/.no_early_exit" ] && extra=(--no-early-exit)
        "$bin" check --plan "$c/plan.out.json" --policies "$c" --format terraform-compliance \
            "${extra[@]}" >/dev/null 2>&1 || true
    done
    end=$(date +%s.%N)
    echo "$end - $start" | bc >>"$out/loop.txt"
done
tail -1 "$out/judge.log"
echo "   judge end to end: $(median <"$out/judge.txt") s (median); mlinfra alone (shell loop): $(median <"$out/loop.txt") s"
start=$(date +%s.%N)
for _ in $(seq 20); do "$bin" --version >/dev/null; done
end=$(date +%s.%N)
echo "   process start-up alone (mlinfra --version): $(echo "($end - $start) * 1000 / 20" | bc) ms"
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
