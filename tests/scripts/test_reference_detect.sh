#!/usr/bin/env bash
# `mlinfra detect` on this repository's own layout (environments/, modules/, policies/,
# mlinfra.yml) selects the right environments: a change to one environment selects it
# alone, a change to a module selects every environment that uses it, a change to the
# policies or the configuration selects all of them, a change elsewhere selects none; and
# with a branch, only that branch's environment is a candidate.
# Skips (exit 0) only while the binary has no detect command.
set -euo pipefail
root="${MLINFRA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
bin="${MLINFRA_BINARY:-$root/build/mlinfra}"

if ! "$bin" detect --help >/dev/null 2>&1; then
    echo "SKIP: $bin has no detect command yet"
    exit 0
fi

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
repo="$tmp/repo"
mkdir -p "$repo"
cp -r "$root/environments" "$root/modules" "$root/policies" "$root/mlinfra.yml" "$repo/"
echo "# ml platform" >"$repo/README.md"

g() { git -C "$repo" -c user.name=test -c user.email=test@example.com -c commit.gpgsign=false "$@"; }
g init -q -b main
g add -A
g commit -q -m "the reference platform"

# Every case branches from main, changes one file and asks which environments it affects.
case_() { # name file branch-or-empty expected-environments (space separated, sorted)
    local name="$1" file="$2" branch="$3" expected="$4" out got
    g checkout -q -B "case-$name" main
    echo "# change for $name" >>"$repo/$file"
    g commit -q -am "change $file"
    local args=(detect --repo "$repo" --base main --head "case-$name")
    [ -n "$branch" ] && args+=(--branch "$branch")
    # Without GITHUB_* variables detect compares the two revisions given.
    if ! out="$(env -u GITHUB_ACTIONS -u GITHUB_EVENT_PATH -u GITHUB_EVENT_NAME -u GITHUB_OUTPUT \
        -u GITHUB_WORKSPACE "$bin" "${args[@]}" 2>"$tmp/err")"; then
        fail "$name: detect failed: $(cat "$tmp/err")"
        return
    fi
    got="$(node -e 'const d=JSON.parse(require("fs").readFileSync(0,"utf8"));
        const n=d.environments.map(e=>e.name).sort();
        if ((n.length===0)!==d.skip) { console.log("skip-mismatch"); process.exit(0); }
        console.log(n.join(" "));' <<<"$out")"
    if [ "$got" = "$expected" ]; then
        echo "ok: $name -> ${expected:-(none)}"
    else
        fail "$name: changing $file${branch:+ on branch $branch} selected '${got}', expected '${expected}'"
    fi
}

case_ dev-tfvars environments/dev/terraform.tfvars "" "dev"
case_ staging-main environments/staging/main.tf "" "staging"
case_ production-variables environments/production/variables.tf "" "production"
case_ cluster-module modules/cluster/main.tf "" "dev production staging"
case_ mlflow-module modules/mlflow/variables.tf "" "dev production staging"
case_ policy policies/cluster.feature "" "dev production staging"
case_ config mlinfra.yml "" "dev production staging"
case_ unrelated README.md "" ""
case_ module-on-dev-branch modules/mlflow/main.tf dev "dev"
case_ module-on-production-branch modules/cluster/outputs.tf production "production"
case_ other-env-on-production-branch environments/dev/main.tf production ""

if [ "$failures" -gt 0 ]; then
    echo "test_reference_detect: $failures failure(s)"
    exit 1
fi
echo "test_reference_detect: all checks passed"
