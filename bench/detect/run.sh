#!/usr/bin/env bash
# Benchmark of `mlinfra detect` against `git diff --name-only` on the same two commits.
#
#   bench/detect/run.sh [--binary PATH] [--runs N] [--keep]
#
# Generates (with git fast-import, in bench/out/detect/) a repository of 50,000 files:
# 200 environments (environments/envNNN, 5 files each, all on branch main, each using two of
# 50 local modules, every fifth module using the next), 50 modules (4 files each) and 48,800
# other files under services/. A second commit changes 1,000 paths: 870 files under
# services/, 40 files in 20 environments, 30 files in 10 modules, and 30 exact renames
# (60 paths: 20 within services/, 10 moving a file from one environment into another).
# Then it times each of these N times (default 7; round-robin, one run of each per round, so
# load changes on a shared machine hit all alike), after one warm-up run:
#   - git diff --name-only BEFORE AFTER            (git's defaults: rename detection on)
#   - git diff --name-only --no-renames BEFORE AFTER
#   - mlinfra detect for a push event BEFORE..AFTER (output to /dev/null)
#   - mlinfra detect for a pull request (merge-base of BEFORE and AFTER, against AFTER)
#   - mlinfra detect --all-paths for the push (every changed path listed, no pruning)
#   - mlinfra version: the agent's process start-up alone (libraries, library init)
# and prints the median wall time, CPU time (user + system: steadier than wall time on a
# shared machine) and peak RSS (GNU time), the machine and its load.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
binary="$root/build/mlinfra"
runs=7
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "bench/detect: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[ -x "$binary" ] || { echo "bench/detect: no binary at $binary (build first or --binary)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench/detect: needs GNU time (/usr/bin/time)" >&2; exit 1; }

out="$root/bench/out/detect"
repo="$out/repo"
rm -rf "$out"
mkdir -p "$out"
export GIT_CONFIG_NOSYSTEM=1 HOME="$out"
git init -q -b main "$repo"

# The fast-import stream: commit 1 (50,001 files with mlinfra.yml), commit 2 (1,000 changed
# paths).
awk -v envs=200 -v mods=50 '
function data(s) { printf "data %d\n%s\n", length(s) + 1, s }
function file(path, content) { printf "M 100644 inline %s\n", path; data(content) }
function svc(s, f) {
    return sprintf("services/svc%03d/%s/f%03d.txt", s, f % 3 == 0 ? "src" : (f % 3 == 1 ? "tests" : "docs/pages"), f)
}
function env_main(e,   a, b) {
    a = e % mods; b = (e * 7 + 3) % mods
    return sprintf("module \"a\" {\n  source = \"../../modules/mod%02d\"\n}\n", a) \
           sprintf("module \"b\" {\n  source = \"../../modules/mod%02d\"\n}\n", b)
}
function mod_main(m) {
    # Every fifth module uses the next one: chains env -> module -> module.
    if (m % 5 == 0 && m + 1 < mods)
        return sprintf("module \"next\" {\n  source = \"../mod%02d\"\n}\nresource \"x\" \"m%d\" {}\n", m + 1, m)
    return sprintf("resource \"x\" \"m%d\" {}\n", m)
}
function commit(msg, when) {
    printf "commit refs/heads/main\n"
    printf "committer bench <bench@example.invalid> %d +0000\n", when
    data(msg)
}
BEGIN {
    commit("base", 1700000000)
    file("mlinfra.yml", "defaults:\n  branch: main\n")
    for (e = 0; e < envs; e++) {
        d = sprintf("environments/env%03d", e)
        file(d "/main.tf", env_main(e))
        file(d "/variables.tf", "variable \"name\" {}\n")
        file(d "/outputs.tf", "output \"id\" { value = 1 }\n")
        file(d "/backend.tf", "terraform {}\n")
        file(d "/terraform.tfvars", sprintf("name = \"env%03d\"\n", e))
    }
    for (m = 0; m < mods; m++) {
        d = sprintf("modules/mod%02d", m)
        file(d "/main.tf", mod_main(m))
        file(d "/variables.tf", "variable \"v\" {}\n")
        file(d "/outputs.tf", "output \"o\" { value = 1 }\n")
        file(d "/README.md", "module\n")
    }
    # 48,800 other files: 400 services x 122 files in src/, tests/ and docs/pages/.
    for (s = 0; s < 400; s++) for (f = 0; f < 122; f++)
        file(svc(s, f), sprintf("service %d file %d\n", s, f))

    commit("change 1,000 paths", 1700003600)
    # 870 service files, spread over all services (distinct: 37 is invertible mod 400, and
    # i and i+400 differ in the file number). File 121 is left for the renames below.
    for (i = 0; n < 870; i++) {
        f = (i * 11) % 122
        if (f == 121) continue
        file(svc((i * 37) % 400, f), sprintf("changed %d\n", i)); n++
    }
    # 40 files in 20 environments (every tenth).
    for (e = 0; e < envs; e += 10) {
        d = sprintf("environments/env%03d", e)
        file(d "/terraform.tfvars", sprintf("name = \"env%03d-v2\"\n", e))
        file(d "/variables.tf", "variable \"name\" { default = \"x\" }\n")
    }
    # 30 files in 10 modules (every fifth, the ones that start a chain).
    for (m = 0; m < mods; m += 5) {
        d = sprintf("modules/mod%02d", m)
        file(d "/variables.tf", "variable \"v\" { default = 1 }\n")
        file(d "/outputs.tf", "output \"o\" { value = 2 }\n")
        file(d "/README.md", "module, revised\n")
    }
    # 30 exact renames, 60 paths: 20 within services, 10 files moved from one environment
    # into the next one (environments 1, 11, ... 91 into 2, 12, ... 92).
    for (i = 0; i < 20; i++)
        printf "R %s services/svc%03d/tests/renamed.txt\n", svc(3 + i * 19, 121), 3 + i * 19
    for (i = 0; i < 10; i++)
        printf "R environments/env%03d/backend.tf environments/env%03d/backend-from-%03d.tf\n", 1 + i * 10, 2 + i * 10, 1 + i * 10
}' >"$out/stream"
git -C "$repo" fast-import --quiet <"$out/stream"
before="$(git -C "$repo" rev-parse main~1)"
after="$(git -C "$repo" rev-parse main)"
git -C "$repo" checkout -q main

files=$(git -C "$repo" ls-tree -r --name-only "$before" | wc -l)
changed=$(git -C "$repo" diff --name-only --no-renames "$before" "$after" | wc -l)
envs=$(git -C "$repo" ls-tree --name-only "$before" environments/ | wc -l)
echo "bench/detect: repository with $files files, $envs environments; $changed changed paths between ${before:0:12} and ${after:0:12}"

printf '{"ref":"refs/heads/main","before":"%s","after":"%s","created":false,"deleted":false,"forced":false,"repository":{"full_name":"bench/infra"}}\n' \
    "$before" "$after" >"$out/push.json"
printf '{"action":"synchronize","number":1,"pull_request":{"number":1,"merged":false,"base":{"ref":"main","sha":"%s","repo":{"full_name":"bench/infra"}},"head":{"ref":"feature","sha":"%s","repo":{"full_name":"bench/infra"}}},"repository":{"full_name":"bench/infra"}}\n' \
    "$before" "$after" >"$out/pr.json"

# The commands, measured round-robin (one run of each per round) so that a change in the
# machine's load during the benchmark hits all of them alike.
names=(
    "git diff --name-only (renames on, git's default)"
    "git diff --name-only --no-renames"
    "mlinfra detect, push (before..after)"
    "mlinfra detect, pull request (merge-base..head)"
    "mlinfra detect --all-paths, push"
    "mlinfra version (process start-up only)"
)
command_of() { # command_of INDEX: sets the array cmd
    local detect=(env GITHUB_OUTPUT= GITHUB_ACTIONS= "$binary" detect --repo "$repo")
    case "$1" in
    0) cmd=(git -C "$repo" diff --name-only "$before" "$after") ;;
    1) cmd=(git -C "$repo" diff --name-only --no-renames "$before" "$after") ;;
    2) cmd=("${detect[@]}" --event "$out/push.json" --event-name push) ;;
    3) cmd=("${detect[@]}" --event "$out/pr.json" --event-name pull_request) ;;
    4) cmd=("${detect[@]}" --event "$out/push.json" --event-name push --all-paths) ;;
    5) cmd=("$binary" version) ;;
    esac
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for i in "${!names[@]}"; do # warm-up, and a check that each command works
    command_of "$i"
    "${cmd[@]}" >/dev/null 2>"$out/stderr" || {
        echo "bench/detect: '${names[$i]}' failed:"; cat "$out/stderr"; exit 1; }
    : >"$out/times.$i"
done
for _ in $(seq "$runs"); do
    for i in "${!names[@]}"; do
        command_of "$i"
        /usr/bin/time -f '%e %U %S %M' -a -o "$out/times.$i" "${cmd[@]}" >/dev/null 2>&1
    done
done

echo
echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1); $(date -u +%Y-%m-%d)"
echo "runs: $runs rounds (median), round-robin after one warm-up run each; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '| %-50s | %8s | %8s | %14s |\n' "command" "wall (s)" "CPU (s)" "peak RSS (KiB)"
printf '| %-50s | %8s | %8s | %14s |\n' "---" "---" "---" "---"
for i in "${!names[@]}"; do
    mapfile -t wall < <(awk '{print $1}' "$out/times.$i")
    mapfile -t cpu < <(awk '{printf "%.2f\n", $2 + $3}' "$out/times.$i")
    mapfile -t rss < <(awk '{print $4}' "$out/times.$i")
    printf '| %-50s | %8s | %8s | %14s |\n' "${names[$i]}" "$(median "${wall[@]}")" \
        "$(median "${cpu[@]}")" "$(median "${rss[@]}")"
done

command_of 2
"${cmd[@]}" >"$out/result.json" 2>/dev/null
command_of 4
"${cmd[@]}" >"$out/result-all.json" 2>/dev/null
echo
# The selection must not depend on the pruning.
sel() { sed -n '/"matrix"/,/"skip"/p' "$1"; }
if [ "$(sel "$out/result.json")" != "$(sel "$out/result-all.json")" ]; then
    echo "bench/detect: --all-paths selected differently from the default" >&2
    exit 1
fi
echo "detect selected $(grep -c '"environment":' "$out/result.json") environments (the same with --all-paths);" \
    "$(grep -m1 '"changed_paths"' "$out/result-all.json" | tr -dc 0-9) entries listed with --all-paths (exact renames pair two paths into one);" \
    "result in $out/result.json"
if [ "$keep" -eq 0 ]; then
    rm -rf "$repo"
fi
