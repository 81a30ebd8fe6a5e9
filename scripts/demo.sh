#!/usr/bin/env bash
# The whole mlinfra cycle on this machine, as the GitHub workflow runs it, without a GitHub
# token or an Azure account:
#
#   1. a sample infrastructure repository whose environment "dev" (branch dev) is
#      examples/local: a stand-in for the MLflow service made only of terraform's built-in
#      terraform_data resource (no provider download, no cloud account);
#   2. a pull request into dev adds the service; `mlinfra plan` runs on its pull_request
#      event: the comment is printed here (no GITHUB_TOKEN), the sealed plan goes to a local
#      plan store (file://);
#   3. the pull request is merged (a merge commit on dev);
#   4. `mlinfra apply` runs on the push event: it finds the merged pull request from the
#      history, verifies the sealed plan and the configuration fingerprint, takes the lock,
#      applies the plan and reports the service address;
#   5. the apply job is run again: "already applied", nothing changes.
#
# terraform: the real one when `terraform` is on PATH, else the test double
# (tests/doubles/terraform, built by cmake as <build>/doubles/terraform), announced as such.
#
#   scripts/demo.sh [BINARY] [--double] [--dir DIR]
#
#   BINARY     the mlinfra binary (default: build/mlinfra)
#   --double   use the terraform double even when terraform is installed
#   --dir DIR  build the sample repository in DIR (must not exist) and keep it; by default
#              a temporary directory is used and removed at the end
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
binary=""
dir=""
force_double=0
while [ $# -gt 0 ]; do
    case "$1" in
    --double) force_double=1; shift ;;
    --dir) dir="$2"; shift 2 ;;
    -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
    -*) echo "demo: unknown option '$1'" >&2; exit 2 ;;
    *) binary="$1"; shift ;;
    esac
done
binary="${binary:-$root/build/mlinfra}"
case "$binary" in /*) ;; *) binary="$PWD/$binary" ;; esac
if [ ! -x "$binary" ]; then
    echo "demo: no mlinfra binary at '$binary' (build it first, or pass its path)" >&2
    exit 1
fi

if [ -n "$dir" ]; then
    if [ -e "$dir" ]; then
        echo "demo: '$dir' already exists" >&2
        exit 2
    fi
    mkdir -p "$dir"
    work="$(cd "$dir" && pwd)"
else
    work="$(mktemp -d "${TMPDIR:-/tmp}/mlinfra-demo-XXXXXX")"
    trap 'rm -rf "$work"' EXIT
fi
repo="$work/repo"

say() { printf '\n\033[1m=== %s\033[0m\n' "$*"; }

# ---- terraform ---------------------------------------------------------------------------
terraform_bin=""
if [ "$force_double" = 0 ] && command -v terraform >/dev/null 2>&1 &&
    terraform version >/dev/null 2>&1; then
    terraform_bin="$(command -v terraform)"
    say "terraform: $("$terraform_bin" version 2>/dev/null | head -n1) at $terraform_bin"
    unset TFDOUBLE_PLAN_JSON
else
    terraform_bin="$(dirname "$binary")/doubles/terraform"
    if [ ! -x "$terraform_bin" ]; then
        echo "demo: no terraform on PATH and no test double at $terraform_bin" \
            "(build it: cmake --build build --target terraform_double)" >&2
        exit 1
    fi
    say "terraform: none on PATH, so this demo uses the TEST DOUBLE $terraform_bin"
    echo "The double keeps terraform's command-line contract (init, plan -out, show -json, apply"
    echo "PLAN with stale-plan detection, output -json) but reads no .tf file: its plan is"
    echo "tests/fixtures/plans/local-example.json, recorded from real terraform for examples/local."
    export TFDOUBLE_PLAN_JSON="$root/tests/fixtures/plans/local-example.json"
fi
export MLINFRA_TERRAFORM="$terraform_bin"
export CHECKPOINT_DISABLE=1

# ---- the sample repository ---------------------------------------------------------------
export GIT_AUTHOR_NAME="mlinfra demo" GIT_AUTHOR_EMAIL="demo@example.invalid"
export GIT_COMMITTER_NAME="mlinfra demo" GIT_COMMITTER_EMAIL="demo@example.invalid"
export GIT_CONFIG_NOSYSTEM=1
git() { command git -C "$repo" -c init.defaultBranch=dev -c commit.gpgsign=false "$@"; }

mkdir -p "$repo/environments/dev"
git init -q
cat >"$repo/mlinfra.yml" <<'EOF'
# The environment dev is planned on pull requests into, and applied on pushes to, branch dev.
version: 1
environments:
  dev:
    directory: environments/dev
    # What the apply reports (the sensitive one is listed to show it is never displayed).
    outputs: [service_ip, service_url, tracking_password]
EOF
cat >"$repo/.gitignore" <<'EOF'
.terraform/
*.tfstate
*.tfstate.backup
.mlinfra/
EOF
cp "$root/examples/local/versions.tf" "$root/examples/local/variables.tf" "$repo/environments/dev/"
git add -A
git commit -q -m "The dev environment, empty"
base="$(git rev-parse HEAD)"

# Pull request #1: the MLflow service.
git checkout -q -b feature/mlflow-service
cp "$root/examples/local/main.tf" "$root/examples/local/outputs.tf" \
    "$root/examples/local/terraform.tfvars" "$repo/environments/dev/"
git add -A
git commit -q -m "dev: the MLflow tracking service"
head="$(git rev-parse HEAD)"

# ---- the workflow's environment ------------------------------------------------------------
export GITHUB_REPOSITORY="example/platform"
export GITHUB_WORKSPACE="$repo"
export RUNNER_TEMP="$work"
export MLINFRA_STORE="file://$work/plans"
# The key that seals plans; in a real repository it is the MLINFRA_PLAN_KEY secret.
MLINFRA_PLAN_KEY="$(head -c 32 /dev/urandom | base64)"
export MLINFRA_PLAN_KEY
unset GITHUB_TOKEN GITHUB_ACTIONS AZURE_STORAGE_ACCOUNT AZURE_STORAGE_BLOB_ENDPOINT

cat >"$work/pull_request.json" <<EOF
{"action": "opened", "number": 1,
 "pull_request": {"number": 1, "merged": false, "title": "dev: the MLflow tracking service",
   "base": {"ref": "dev", "sha": "$base", "repo": {"full_name": "$GITHUB_REPOSITORY"}},
   "head": {"ref": "feature/mlflow-service", "sha": "$head",
            "repo": {"full_name": "$GITHUB_REPOSITORY"}}},
 "repository": {"full_name": "$GITHUB_REPOSITORY"}}
EOF

say "1. pull request #1 into dev: mlinfra plan (the comment is printed: no GITHUB_TOKEN)"
: >"$work/plan_output"
GITHUB_EVENT_NAME=pull_request GITHUB_EVENT_PATH="$work/pull_request.json" \
    GITHUB_SHA="$head" GITHUB_OUTPUT="$work/plan_output" \
    "$binary" plan --repo "$repo"
echo "--- step outputs of the plan:"
grep -E '^(has_changes|add|change|destroy|plan_id)=' "$work/plan_output"

say "2. the pull request is merged into dev"
git checkout -q dev
git merge -q --no-ff -m "Merge pull request #1 from example/feature/mlflow-service" \
    feature/mlflow-service
merge="$(git rev-parse HEAD)"
git log --oneline --graph -n 3
cat >"$work/push.json" <<EOF
{"ref": "refs/heads/dev", "before": "$base", "after": "$merge",
 "created": false, "deleted": false, "forced": false,
 "repository": {"full_name": "$GITHUB_REPOSITORY"}}
EOF

apply() { # apply OUTPUT_FILE
    : >"$1"
    GITHUB_EVENT_NAME=push GITHUB_EVENT_PATH="$work/push.json" GITHUB_SHA="$merge" \
        GITHUB_OUTPUT="$1" "$binary" apply --repo "$repo"
}

say "3. the push to dev: mlinfra apply"
apply "$work/apply_output"
echo "--- step outputs of the apply:"
grep -E '^(applied|result|pr|plan_id|address|service_ip|service_url)=' "$work/apply_output"
address="$(sed -n 's/^address=//p' "$work/apply_output")"

say "4. the apply job run again: nothing to do"
apply "$work/rerun_output"
grep -E '^(applied|result)=' "$work/rerun_output"

say "done: MLflow (the stand-in) is at $address"
if [ -n "$dir" ]; then
    echo "The sample repository is kept in $repo, the plan store in $work/plans."
fi
