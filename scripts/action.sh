#!/usr/bin/env bash
# The composite action's steps (action.yml), kept in a file so that shellcheck and the tests
# can read them:
#
#   scripts/action.sh prepare   checks the inputs, finds or builds the image, fetches a
#                               requested terraform version and checks its SHA-256; writes
#                               `image` and `terraform` to $GITHUB_OUTPUT
#   scripts/action.sh run       runs the agent's container with `docker run`
#
# Everything comes in through environment variables (INPUT_* for the action's inputs, the
# rest as GitHub sets them), never through `${{ }}` interpolated into this text, so no
# input can become shell code. Secrets reach the container only as environment variables
# passed by name (`docker run -e NAME`, the value taken from this process's environment):
# never as arguments, where `ps` or a log would show them.
set -euo pipefail

# The terraform baked into the image (Dockerfile: ARG TERRAFORM_VERSION). A request for this
# version uses the image's binary; any other is downloaded and checked.
IMAGE_TERRAFORM_VERSION=1.9.8

die() {
    # ::error:: makes the message an annotation on the run, not just a log line.
    echo "::error title=mlinfra action::$*" >&2
    exit 2
}

need() {
    [ -n "${!1:-}" ] || die "$1 is not set; is this running inside GitHub Actions?"
}

# A name we pass to `docker run -e`: only well-formed variable names, so an input cannot
# smuggle in a `NAME=value` pair.
valid_env_name() {
    [[ "$1" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]
}

output() {
    # Only non-secret, single-line values are written here (image name, a path).
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
}

check_inputs() {
    case "${INPUT_COMMAND:-}" in
        detect | plan | apply) ;;
        *) die "input 'command' must be detect, plan or apply (got '${INPUT_COMMAND:-}')" ;;
    esac
    if [ -n "${INPUT_ENVIRONMENT:-}" ] && ! [[ "$INPUT_ENVIRONMENT" =~ ^[a-z0-9][a-z0-9_-]*$ ]]; then
        die "input 'environment' must match [a-z0-9][a-z0-9_-]* (got '$INPUT_ENVIRONMENT')"
    fi
    local wd="${INPUT_WORKING_DIRECTORY:-.}"
    case "/$wd/" in
        */../* | //*) die "input 'working-directory' must be a relative path inside the workspace (got '$wd')" ;;
    esac
    local name
    for name in ${INPUT_EXTRA_ENV:-}; do
        valid_env_name "$name" || die "input 'extra-env': '$name' is not a variable name"
    done
}

# ---------------------------------------------------------------------------------------
# prepare
# ---------------------------------------------------------------------------------------

prepare_image() {
    local image="${INPUT_IMAGE:-}"
    if [ -z "$image" ]; then
        # No published image: build this action's own Dockerfile (compiles the agent and runs
        # its unit tests, a few minutes on a hosted runner).
        need GITHUB_ACTION_PATH
        image="mlinfra-action:local-$(git -C "$GITHUB_ACTION_PATH" rev-parse --short=12 HEAD 2>/dev/null || echo build)"
        if ! docker image inspect "$image" >/dev/null 2>&1; then
            echo "::group::Building the mlinfra image from $GITHUB_ACTION_PATH"
            docker build --tag "$image" "$GITHUB_ACTION_PATH"
            echo "::endgroup::"
        fi
    fi
    output image "$image"
}

prepare_terraform() {
    local version="${INPUT_TERRAFORM_VERSION:-}"
    if [ -z "$version" ] || [ "$version" = "$IMAGE_TERRAFORM_VERSION" ]; then
        output terraform ""
        return
    fi
    [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[a-z0-9]+)?$ ]] || die "input 'terraform-version' must look like 1.9.8 (got '$version')"
    local sha="${INPUT_TERRAFORM_SHA256:-}"
    [[ "$sha" =~ ^[0-9a-f]{64}$ ]] ||
        die "terraform $version is not the image's ($IMAGE_TERRAFORM_VERSION): input 'terraform-sha256' must give the SHA-256 of its linux zip, from releases.hashicorp.com/terraform/$version/terraform_${version}_SHA256SUMS"
    local arch
    case "$(uname -m)" in
        x86_64) arch=amd64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) die "no terraform build for this runner's architecture ($(uname -m))" ;;
    esac
    need RUNNER_TEMP
    local dir="$RUNNER_TEMP/mlinfra-terraform-$version"
    if [ ! -x "$dir/terraform" ]; then
        local zip="$dir.zip"
        mkdir -p "$dir"
        curl -fsSL --retry 3 -o "$zip" "https://releases.hashicorp.com/terraform/$version/terraform_${version}_linux_${arch}.zip"
        # The check runs before anything from the archive is unpacked or executed.
        echo "$sha  $zip" | sha256sum -c - >/dev/null || die "terraform_${version}_linux_${arch}.zip does not match terraform-sha256; refusing to use it"
        unzip -oq "$zip" terraform -d "$dir"
        rm -f "$zip"
    fi
    output terraform "$dir"
}

# ---------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------

mounts=()
mounted=()

# Bind mounts at the same path inside as outside, so every path GitHub hands the agent
# ($GITHUB_EVENT_PATH, $GITHUB_OUTPUT, ...) is valid in the container unchanged.
mount_same() { # path mode
    local p m
    p="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
    for m in "${mounted[@]}"; do
        [ "$m" = "$p" ] && return 0
    done
    mounted+=("$p")
    mounts+=(--mount "type=bind,source=$p,target=$p${2:+,$2}")
}

run_agent() {
    need GITHUB_WORKSPACE
    need GITHUB_EVENT_PATH
    need GITHUB_OUTPUT
    need GITHUB_STEP_SUMMARY
    need RUNNER_TEMP
    local image="${MLINFRA_IMAGE:-}"
    [ -n "$image" ] || die "no image to run (the prepare step did not run?)"

    local workdir
    workdir="$(cd "$GITHUB_WORKSPACE/${INPUT_WORKING_DIRECTORY:-.}" 2>/dev/null && pwd)" ||
        die "working-directory '${INPUT_WORKING_DIRECTORY:-.}' does not exist in the workspace"

    # The agent's own scratch space (saved plans, terraform's data) under the runner's
    # temporary directory, which the runner empties after the job.
    local scratch="$RUNNER_TEMP/mlinfra"
    mkdir -p "$scratch"

    mount_same "$GITHUB_WORKSPACE"
    mount_same "$scratch"
    # The event payload, read-only. Output and summary are single files that the agent
    # appends to: mounting just them (not their directory) keeps the container away from the
    # step's other command files ($GITHUB_ENV, $GITHUB_PATH).
    mount_same "$GITHUB_EVENT_PATH" readonly
    mount_same "$GITHUB_OUTPUT"
    mount_same "$GITHUB_STEP_SUMMARY"
    if [ -n "${MLINFRA_TERRAFORM_DIR:-}" ]; then
        mount_same "$MLINFRA_TERRAFORM_DIR" readonly
        export MLINFRA_TERRAFORM="$MLINFRA_TERRAFORM_DIR/terraform"
    fi

    # What the agent and terraform read, as DESIGN.md section 5 names it.
    export GITHUB_TOKEN="${INPUT_GITHUB_TOKEN:-}"
    export MLINFRA_PLAN_KEY="${INPUT_PLAN_KEY:-}"
    export MLINFRA_PLAN_KEY_PREVIOUS="${INPUT_PLAN_KEY_PREVIOUS:-}"
    export MLINFRA_ENVIRONMENT="${INPUT_ENVIRONMENT:-}"
    export MLINFRA_PLAN_LABEL="${INPUT_PLAN_LABEL:-}"
    export AZURE_STORAGE_ACCOUNT="${INPUT_AZURE_STORAGE_ACCOUNT:-}"
    export AZURE_STORAGE_CONTAINER="${INPUT_AZURE_STORAGE_CONTAINER:-}"
    export AZURE_STORAGE_BLOB_ENDPOINT="${INPUT_AZURE_STORAGE_ENDPOINT:-}"
    export AZURE_STORAGE_KEY="${INPUT_AZURE_STORAGE_KEY:-}"
    export AZURE_STORAGE_SAS_TOKEN="${INPUT_AZURE_STORAGE_SAS_TOKEN:-}"
    export AZURE_CLIENT_ID="${INPUT_AZURE_CLIENT_ID:-}"
    export AZURE_TENANT_ID="${INPUT_AZURE_TENANT_ID:-}"
    # terraform's azurerm provider and backend authenticate with the same federated identity.
    export ARM_CLIENT_ID="${INPUT_AZURE_CLIENT_ID:-}"
    export ARM_TENANT_ID="${INPUT_AZURE_TENANT_ID:-}"
    export ARM_SUBSCRIPTION_ID="${INPUT_AZURE_SUBSCRIPTION_ID:-}"
    if [ -n "$ARM_CLIENT_ID" ]; then
        export ARM_USE_OIDC=true
    fi
    export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

    local names=(
        GITHUB_ACTIONS CI GITHUB_EVENT_NAME GITHUB_EVENT_PATH GITHUB_REPOSITORY
        GITHUB_REPOSITORY_OWNER GITHUB_REF GITHUB_REF_NAME GITHUB_BASE_REF GITHUB_HEAD_REF
        GITHUB_SHA GITHUB_API_URL GITHUB_SERVER_URL GITHUB_GRAPHQL_URL GITHUB_RUN_ID
        GITHUB_RUN_NUMBER GITHUB_RUN_ATTEMPT GITHUB_WORKFLOW GITHUB_JOB GITHUB_ACTOR
        GITHUB_WORKSPACE GITHUB_OUTPUT GITHUB_STEP_SUMMARY GITHUB_TOKEN RUNNER_DEBUG
        ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN
        MLINFRA_PLAN_KEY MLINFRA_PLAN_KEY_PREVIOUS MLINFRA_ENVIRONMENT MLINFRA_PLAN_LABEL
        MLINFRA_TERRAFORM MLINFRA_HTTP_TIMEOUT MLINFRA_HTTP_STALL_TIMEOUT MLINFRA_HTTP_RETRY_DELAY_MS
        AZURE_STORAGE_ACCOUNT AZURE_STORAGE_CONTAINER AZURE_STORAGE_BLOB_ENDPOINT
        AZURE_STORAGE_KEY AZURE_STORAGE_SAS_TOKEN AZURE_CLIENT_ID AZURE_TENANT_ID
        ARM_CLIENT_ID ARM_TENANT_ID ARM_SUBSCRIPTION_ID ARM_USE_OIDC
        TF_IN_AUTOMATION TF_INPUT CHECKPOINT_DISABLE
        HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy
    )
    local name
    for name in ${INPUT_EXTRA_ENV:-}; do
        valid_env_name "$name" || die "input 'extra-env': '$name' is not a variable name"
        names+=("$name")
    done

    local env_args=() n
    for n in "${names[@]}"; do
        # Unset or empty: not passed, so the agent sees "not configured" rather than "".
        [ -n "${!n:-}" ] && env_args+=(--env "$n")
    done
    # RUNNER_TEMP inside is the agent's scratch directory, not the whole runner temp; HOME is
    # the writable tmpfs, since the image's root filesystem is read-only.
    env_args+=(--env "RUNNER_TEMP=$scratch" --env HOME=/tmp)

    local tmpfs_opts="/tmp:rw,nosuid,nodev,size=1g"
    local args=(
        # A cancelled workflow's SIGTERM reaches the agent (docker run proxies signals, the
        # --init process forwards them), so an apply still releases its lock.
        run --rm --init
        # The runner's own user: files the agent writes in the workspace stay the runner's,
        # and libgit2's ownership check accepts the checkout.
        --user "$(id -u):$(id -g)"
        --cap-drop ALL
        --security-opt no-new-privileges
        --read-only
        --tmpfs "$tmpfs_opts"
        --workdir "$workdir"
        "${mounts[@]}"
        "${env_args[@]}"
        "$image"
        "$INPUT_COMMAND"
    )
    # The agent's own options: only validated, non-secret values (the environment name
    # matched [a-z0-9][a-z0-9_-]*; the directory is inside the workspace).
    if [ -n "${INPUT_ENVIRONMENT:-}" ] && [ "$INPUT_COMMAND" != detect ]; then
        args+=(--environment "$INPUT_ENVIRONMENT")
    fi
    if [ "$workdir" != "$(cd "$GITHUB_WORKSPACE" && pwd)" ]; then
        args+=(--repo "$workdir")
    fi
    exec docker "${args[@]}"
}

case "${1:-}" in
    prepare)
        need GITHUB_OUTPUT
        check_inputs
        prepare_image
        prepare_terraform
        ;;
    run)
        check_inputs
        run_agent
        ;;
    *)
        echo "usage: $0 prepare|run" >&2
        exit 2
        ;;
esac
