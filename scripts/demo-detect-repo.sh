#!/usr/bin/env bash
# Builds a small sample infrastructure repository (environments dev, staging, production on
# their own branches, and local modules cluster, mlflow and storage, where mlflow uses
# storage) and runs `mlinfra detect` on it the way a GitHub Actions run would: with an event
# payload at GITHUB_EVENT_PATH and a $GITHUB_OUTPUT file.
#
#   scripts/demo-detect-repo.sh [--binary PATH] [--dir DIR]
#
#   --binary PATH  the mlinfra binary (default: build/mlinfra, then mlinfra on PATH)
#   --dir DIR      build the sample repository in DIR (must not exist) and keep it;
#                  by default a temporary directory is used and removed at the end
#
# Scenarios:
#   1. a pull request into dev that changes modules/storage: dev is selected through the
#      module chain environments/dev -> modules/mlflow -> modules/storage;
#   2. a pull request into production that only changes docs/: nothing to do (skip=true);
#   3. a push to staging that renames a file of modules/cluster: staging is selected.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
binary=""
dir=""
while [ $# -gt 0 ]; do
    case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "demo-detect-repo: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
if [ -z "$binary" ]; then
    if [ -x "$root/build/mlinfra" ]; then
        binary="$root/build/mlinfra"
    else
        binary="$(command -v mlinfra || true)"
    fi
fi
if [ -z "$binary" ] || [ ! -x "$binary" ]; then
    echo "demo-detect-repo: no mlinfra binary (build it first, or pass --binary)" >&2
    exit 1
fi

if [ -n "$dir" ]; then
    if [ -e "$dir" ]; then
        echo "demo-detect-repo: '$dir' already exists" >&2
        exit 2
    fi
    mkdir -p "$dir"
    work="$(cd "$dir" && pwd)"
else
    work="$(mktemp -d "${TMPDIR:-/tmp}/mlinfra-demo-XXXXXX")"
    trap 'rm -rf "$work"' EXIT
fi
repo="$work/repo"

export GIT_AUTHOR_NAME="mlinfra demo" GIT_AUTHOR_EMAIL="demo@example.invalid"
export GIT_COMMITTER_NAME="mlinfra demo" GIT_COMMITTER_EMAIL="demo@example.invalid"
export GIT_CONFIG_NOSYSTEM=1
git() { command git -C "$repo" -c init.defaultBranch=dev -c commit.gpgsign=false "$@"; }

write() { # write FILE CONTENT...: creates FILE (and its directory) in the repository
    local file="$repo/$1"
    shift
    mkdir -p "$(dirname "$file")"
    printf '%s\n' "$@" >"$file"
}

mkdir -p "$repo"
git init -q
for env in dev staging production; do
    write "environments/$env/main.tf" \
        'module "cluster" {' \
        '  source = "../../modules/cluster"' \
        "  name   = \"mlflow-$env\"" \
        '}' \
        '' \
        'module "mlflow" {' \
        '  source  = "../../modules/mlflow"' \
        '  cluster = module.cluster.name' \
        '}'
    write "environments/$env/terraform.tfvars" "environment = \"$env\""
done
write modules/cluster/main.tf 'resource "azurerm_kubernetes_cluster" "this" {' '  name = var.name' '}'
write modules/cluster/variables.tf 'variable "name" {}'
write modules/mlflow/main.tf \
    '# MLflow on the cluster; its stores come from the storage module.' \
    'module "storage" {' \
    '  source = "../storage"' \
    '}' \
    'resource "helm_release" "mlflow" {' \
    '  chart = "mlflow"' \
    '}'
write modules/storage/main.tf 'resource "azurerm_storage_container" "artifacts" {' '  name = "mlflow"' '}'
write docs/README.md '# Platform docs'
write mlinfra.yml \
    '# Each environment is deployed from the branch of the same name (the default).' \
    'environments:' \
    '  dev: {}' \
    '  staging: {}' \
    '  production:' \
    '    require_approval: true' \
    '    outputs: [mlflow_url]'
git add -A
git commit -q -m "Sample platform"
base="$(git rev-parse HEAD)"
git branch staging
git branch production

# A pull request into dev changing the storage module.
git checkout -q -b feature/artifact-retention
write modules/storage/main.tf 'resource "azurerm_storage_container" "artifacts" {' \
    '  name = "mlflow-artifacts"' '}'
git commit -q -am "storage: rename the artifact container"
head_storage="$(git rev-parse HEAD)"

# A pull request into production changing only the docs.
git checkout -q -b docs/typo production
write docs/README.md '# Platform documentation'
git commit -q -am "docs: wording"
head_docs="$(git rev-parse HEAD)"

# A push to staging renaming a file of the cluster module.
git checkout -q staging
git mv modules/cluster/variables.tf modules/cluster/inputs.tf
git commit -q -m "cluster: rename variables.tf"
after_staging="$(git rev-parse HEAD)"

pr_event() { # pr_event FILE NUMBER BASE_BRANCH BASE_SHA HEAD_BRANCH HEAD_SHA
    printf '%s\n' "{\"action\":\"opened\",\"number\":$2,\"pull_request\":{\"number\":$2," \
        "\"merged\":false,\"base\":{\"ref\":\"$3\",\"sha\":\"$4\"," \
        "\"repo\":{\"full_name\":\"example/platform\"}},\"head\":{\"ref\":\"$5\"," \
        "\"sha\":\"$6\",\"repo\":{\"full_name\":\"example/platform\"}}}," \
        "\"repository\":{\"full_name\":\"example/platform\"}}" >"$1"
}
push_event() { # push_event FILE BRANCH BEFORE AFTER
    printf '%s\n' "{\"ref\":\"refs/heads/$2\",\"before\":\"$3\",\"after\":\"$4\"," \
        "\"created\":false,\"deleted\":false,\"forced\":false," \
        "\"repository\":{\"full_name\":\"example/platform\"}}" >"$1"
}

run() { # run TITLE EVENT_NAME EVENT_FILE
    echo
    echo "=== $1"
    : >"$work/github_output"
    GITHUB_ACTIONS="" GITHUB_EVENT_NAME="$2" GITHUB_EVENT_PATH="$3" \
        GITHUB_REPOSITORY="example/platform" GITHUB_OUTPUT="$work/github_output" \
        "$binary" detect --repo "$repo" 2>&1
    echo "--- \$GITHUB_OUTPUT (first lines):"
    grep -E '^(environments|matrix|skip|fork|full_run)=' "$work/github_output"
}

pr_event "$work/pr-dev.json" 1 dev "$base" feature/artifact-retention "$head_storage"
run "pull request #1 into dev: modules/storage changed" pull_request "$work/pr-dev.json"
pr_event "$work/pr-prod.json" 2 production "$base" docs/typo "$head_docs"
run "pull request #2 into production: docs only" pull_request "$work/pr-prod.json"
push_event "$work/push-staging.json" staging "$base" "$after_staging"
run "push to staging: a file of modules/cluster renamed" push "$work/push-staging.json"
echo
echo "demo-detect-repo: done (sample repository: $repo$( [ -n "$dir" ] || echo ', removed on exit'))"
