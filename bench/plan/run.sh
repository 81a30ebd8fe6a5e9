#!/usr/bin/env bash
# bench/plan: the agent's own cost in `mlinfra plan`.
#
#  1. overhead: `mlinfra plan` on a typical plan (the reference AKS + MLflow fixture, 10
#     resource changes) for a pull request event, with the terraform double answering at once
#     and the GitHub REST double on loopback (the comment is created on the first run and
#     updated in place after). Reported: median wall time and peak RSS of the mlinfra process,
#     and the same terraform commands run directly, so the difference is the agent's share.
#  2. render: parsing the plan JSON and rendering the comment for a 10,000-change plan
#     (in-process, tests/support/plangen.h).
#
# Goals (issue 4): overhead under 100 ms, rendering under 200 ms.
#   bench/plan/run.sh            RUNS=11 by default; BUILD_DIR to reuse a build
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=${BUILD_DIR:-$root/build-bench}
runs=${RUNS:-11}

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMLINFRA_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target mlinfra terraform_double >/dev/null

work=$(mktemp -d)
gh_pid=
cleanup() {
    if [ -n "$gh_pid" ]; then kill "$gh_pid" 2>/dev/null || true; wait "$gh_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

libs="$(pkg-config --libs libcurl jansson libgit2 libsodium yaml-0.1) $(pkg-config --libs libcrypto 2>/dev/null || true)"
cc -O2 -o "$work/bench_exec" bench/plan/bench_exec.c
# shellcheck disable=SC2086
cc -O2 -D_GNU_SOURCE -DMLINFRA_VERSION='"bench"' -I agent -I tests/support -o "$work/bench_render" \
    bench/plan/bench_render.c tests/support/plangen.c "$build/libmlinfra_core.a" $libs -lm -pthread

# --- the GitHub double on a free loopback port -------------------------------------------------
node tests/doubles/github/server.js --port 0 >"$work/gh.log" 2>&1 &
gh_pid=$!
port=
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/gh.log" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "github double did not start:"; cat "$work/gh.log"; exit 1; }
api="http://127.0.0.1:$port"
curl -fsS "$api/_double/ready" >/dev/null
token=ghs_bench_actions_token_0123456789
head_sha=1111111111111111111111111111111111111111
base_sha=0000000000000000000000000000000000000001
curl -fsS -X POST -H 'Content-Type: application/json' "$api/_double/seed" -d @- >/dev/null <<JSON
{"tokens":[{"token":"$token","login":"github-actions[bot]","installation":true,
  "permissions":{"contents":"read","issues":"write","pull_requests":"write","metadata":"read"}}],
 "repos":[{"full_name":"octo-org/infra","default_branch":"main",
  "branches":{"main":"$base_sha","dev":"$base_sha"},
  "pulls":[{"number":1,"title":"bench","user":"octocat","head_ref":"feature-1",
            "head_sha":"$head_sha","base_ref":"dev","base_sha":"$base_sha"}]}]}
JSON

# --- a repository with one environment and the typical plan ------------------------------------
repo="$work/repo"
mkdir -p "$repo/environments/dev/.tfdouble"
cp tests/fixtures/plans/aks_mlflow_replace.json "$repo/environments/dev/.tfdouble/plan.json"
printf 'resource "terraform_data" "x" {}\n' >"$repo/environments/dev/main.tf"
sed -e 's/"ref": "master"/"ref": "dev"/' tests/fixtures/events/pull_request.synchronize.json >"$work/event.json"
node -e '
const fs = require("fs"); const f = process.argv[1]; const e = JSON.parse(fs.readFileSync(f));
e.number = 1; e.pull_request.number = 1; e.pull_request.base.ref = "dev";
e.pull_request.head.sha = process.argv[2]; e.pull_request.base.sha = process.argv[3];
e.repository.full_name = "octo-org/infra";
e.pull_request.base.repo.full_name = "octo-org/infra"; e.pull_request.head.repo.full_name = "octo-org/infra";
fs.writeFileSync(f, JSON.stringify(e));' "$work/event.json" "$head_sha" "$base_sha"

export GITHUB_ACTIONS=true GITHUB_EVENT_NAME=pull_request GITHUB_EVENT_PATH="$work/event.json"
export GITHUB_REPOSITORY=octo-org/infra GITHUB_REF=refs/pull/1/merge
export GITHUB_SHA=2222222222222222222222222222222222222222 GITHUB_API_URL="$api" GITHUB_TOKEN="$token"
export GITHUB_WORKSPACE="$repo" GITHUB_OUTPUT="$work/out" GITHUB_STEP_SUMMARY="$work/summary"
export RUNNER_TEMP="$work" MLINFRA_TERRAFORM="$build/doubles/terraform"

cd "$repo"
"$build/mlinfra" plan >/dev/null 2>"$work/first.log" || { cat "$work/first.log"; exit 1; }
plan_line=$("$work/bench_exec" "$runs" "$build/mlinfra" plan)
nocomment_line=$("$work/bench_exec" "$runs" "$build/mlinfra" plan --no-comment)

# The same terraform commands, run directly: what the double itself costs. And what starting
# the mlinfra process costs (loading libcurl, libgit2, OpenSSL, ...), and memory's first touch.
start_line=$("$work/bench_exec" "$runs" "$build/mlinfra" --version)
pf_line=$("$work/bench_exec" --page-fault)
cd "$repo/environments/dev"
tf="$build/doubles/terraform"
"$tf" init -input=false -no-color >/dev/null
"$tf" plan -input=false -no-color -out="$work/p.tfplan" -detailed-exitcode -lock-timeout=5m >/dev/null || true
tf_ms=0
for cmd in "init -input=false -no-color" "validate -json -no-color" \
           "plan -input=false -no-color -out=$work/p.tfplan -detailed-exitcode -lock-timeout=5m" \
           "show -json -no-color $work/p.tfplan"; do
    # shellcheck disable=SC2086
    ms=$("$work/bench_exec" "$runs" "$tf" $cmd | sed -n 's/wall_ms=\([0-9.]*\).*/\1/p')
    tf_ms=$(awk -v a="$tf_ms" -v b="$ms" 'BEGIN { printf "%.1f", a + b }')
done
cd "$root"

plan_ms=$(echo "$plan_line" | sed -n 's/wall_ms=\([0-9.]*\).*/\1/p')
plan_rss=$(echo "$plan_line" | sed -n 's/.*maxrss_kib=\([0-9]*\).*/\1/p')
plan_cpu=$(echo "$plan_line" | sed -n 's/.*cpu_ms=\([0-9.]*\).*/\1/p')
start_ms=$(echo "$start_line" | sed -n 's/wall_ms=\([0-9.]*\).*/\1/p')
nocomment_ms=$(echo "$nocomment_line" | sed -n 's/wall_ms=\([0-9.]*\).*/\1/p')
overhead_local=$(awk -v a="$nocomment_ms" -v b="$tf_ms" 'BEGIN { printf "%.1f", a - b }')
overhead=$(awk -v a="$plan_ms" -v b="$tf_ms" 'BEGIN { printf "%.1f", a - b }')
comments=$(curl -fsS "$api/_double/state" | node -e '
let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
  const st = JSON.parse(s); console.log(st.repos["octo-org/infra"].comments.length); });')

render_line=$("$work/bench_render" 10000 "$runs")

echo "machine: $(nproc) cpus, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)   runs: $runs (medians)"
echo "mlinfra plan (typical plan, 10 changes, comment updated in place; $comments comment on the PR):"
echo "  wall ${plan_ms} ms, CPU of the mlinfra process ${plan_cpu} ms, peak RSS ${plan_rss} KiB"
echo "  terraform double alone (init+validate+plan+show): ${tf_ms} ms"
echo "  agent overhead (wall minus the double): ${overhead} ms   (goal < 100 ms)"
echo "  without the GitHub round trips (--no-comment): wall ${nocomment_ms} ms, overhead ${overhead_local} ms"
echo "  starting the process alone (mlinfra --version): ${start_ms} ms"
echo "  memory first touch on this machine: $pf_line"
echo "render, 10,000 changes: $render_line   (goal render < 200 ms)"
