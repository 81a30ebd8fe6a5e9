#!/usr/bin/env bash
# scripts/action.sh, the composite action's steps, run against a stand-in `docker` that
# records what it is asked to do. Checks: secrets reach the container only as variables
# passed by name (never as arguments), the GitHub files are mounted at their own paths,
# the container runs as the runner's user with a read-only root, inputs are validated, and
# a downloaded terraform whose SHA-256 does not match is refused.
set -euo pipefail
root="${MLINFRA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
script="$root/scripts/action.sh"

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# A GitHub-like runner layout.
ws="$tmp/work/repo/repo"
rt="$tmp/runner-temp"
mkdir -p "$ws/infra" "$rt/_github_workflow" "$rt/_runner_file_commands" "$tmp/bin"
echo '{"action":"opened"}' >"$rt/_github_workflow/event.json"
: >"$rt/_runner_file_commands/set_output_1"
: >"$rt/_runner_file_commands/step_summary_1"
: >"$rt/_runner_file_commands/set_env_1"

# The stand-in docker: one argument per line, then the environment it was handed.
cat >"$tmp/bin/docker" <<'FAKE'
#!/usr/bin/env bash
log="${FAKE_DOCKER_LOG:?}"
{
    echo "--- argv"
    printf '%s\n' "$@"
    echo "--- env"
    env
} >>"$log"
case "$1" in
    image) exit 1 ;;
esac
exit "${FAKE_DOCKER_RC:-0}"
FAKE
chmod +x "$tmp/bin/docker"

secret_token="ghs_FixtureToken0123456789abcdefABCDEF"
secret_key="c2VjcmV0LXBsYW4ta2V5LWZvci10ZXN0cy0wMTIzNDU2Nzg="
secret_key_prev="cHJldmlvdXMtcGxhbi1rZXktZm9yLXRlc3RzLTk4NzY1NDM="
secret_storage="U3RvcmFnZUtleUZpeHR1cmVOb3RSZWFs"
secret_sas="sv=2024-05-04&sig=FixtureSasSignature%3D"
secret_oidc="eyJFixtureOidcRequestToken"

run_action() { # step; extra variables as NAME=value arguments
    local step="$1"
    shift
    : >"$tmp/docker.log"
    env -i PATH="$tmp/bin:/usr/bin:/bin" HOME="$tmp" FAKE_DOCKER_LOG="$tmp/docker.log" \
        GITHUB_ACTIONS=true GITHUB_WORKSPACE="$ws" GITHUB_EVENT_NAME=pull_request \
        GITHUB_EVENT_PATH="$rt/_github_workflow/event.json" GITHUB_REPOSITORY=acme/ml-infra \
        GITHUB_SHA=0123456789abcdef0123456789abcdef01234567 GITHUB_API_URL=https://api.github.com \
        GITHUB_OUTPUT="$rt/_runner_file_commands/set_output_1" \
        GITHUB_STEP_SUMMARY="$rt/_runner_file_commands/step_summary_1" \
        GITHUB_ENV="$rt/_runner_file_commands/set_env_1" RUNNER_TEMP="$rt" GITHUB_ACTION_PATH="$root" \
        ACTIONS_ID_TOKEN_REQUEST_URL=https://token.actions.example/idtoken \
        ACTIONS_ID_TOKEN_REQUEST_TOKEN="$secret_oidc" \
        "$@" bash "$script" "$step" >"$tmp/out" 2>&1
}

argv() { sed -n '/^--- argv$/,/^--- env$/p' "$tmp/docker.log" | sed '1d;$d'; }
envof() { sed -n '/^--- env$/,$p' "$tmp/docker.log" | sed '1d'; }

echo "== run: a plan with every secret set"
if ! run_action run MLINFRA_IMAGE=ghcr.io/acme/mlinfra@sha256:0000 INPUT_COMMAND=plan INPUT_ENVIRONMENT=production \
    INPUT_WORKING_DIRECTORY=infra INPUT_PLAN_LABEL=blue INPUT_GITHUB_TOKEN="$secret_token" INPUT_PLAN_KEY="$secret_key" INPUT_PLAN_KEY_PREVIOUS="$secret_key_prev" \
    INPUT_AZURE_STORAGE_ACCOUNT=stplans INPUT_AZURE_STORAGE_CONTAINER=plans INPUT_AZURE_STORAGE_KEY="$secret_storage" \
    INPUT_AZURE_STORAGE_SAS_TOKEN="$secret_sas" INPUT_AZURE_CLIENT_ID=11111111-2222-3333-4444-555555555555 \
    INPUT_AZURE_TENANT_ID=66666666-7777-8888-9999-000000000000 INPUT_AZURE_SUBSCRIPTION_ID=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee \
    INPUT_EXTRA_ENV="TF_VAR_alert_email" TF_VAR_alert_email=ml@example.com; then
    fail "run step failed: $(cat "$tmp/out")"
fi
a="$(argv)"
e="$(envof)"
for s in "$secret_token" "$secret_key" "$secret_key_prev" "$secret_storage" "$secret_sas" "$secret_oidc"; do
    if grep -qF -- "$s" <<<"$a"; then fail "a secret is on docker's command line: ${s:0:8}..."; fi
    if ! grep -qF -- "$s" <<<"$e"; then fail "a secret did not reach docker's environment: ${s:0:8}..."; fi
done
grep -qF -- "$secret_token" "$tmp/out" && fail "the token was printed"
for n in GITHUB_TOKEN MLINFRA_PLAN_KEY MLINFRA_PLAN_KEY_PREVIOUS AZURE_STORAGE_KEY AZURE_STORAGE_SAS_TOKEN ACTIONS_ID_TOKEN_REQUEST_TOKEN \
    ACTIONS_ID_TOKEN_REQUEST_URL AZURE_STORAGE_ACCOUNT AZURE_STORAGE_CONTAINER AZURE_CLIENT_ID AZURE_TENANT_ID \
    ARM_CLIENT_ID ARM_TENANT_ID ARM_SUBSCRIPTION_ID ARM_USE_OIDC MLINFRA_ENVIRONMENT MLINFRA_PLAN_LABEL \
    GITHUB_EVENT_PATH GITHUB_OUTPUT GITHUB_STEP_SUMMARY GITHUB_REPOSITORY GITHUB_SHA TF_VAR_alert_email; do
    grep -qx -- "$n" <<<"$a" || fail "$n is not passed by name (--env $n)"
done
grep -q -- '=' <<<"$(grep -A1 -x -- '--env' <<<"$a" | grep -v -x -- '--env' | grep -v -- '^--$' | grep -v -e '^RUNNER_TEMP=' -e '^HOME=/tmp$')" &&
    fail "a --env argument carries a value: $(grep -A1 -x -- '--env' <<<"$a" | grep '=')"
grep -qx -- "ARM_SUBSCRIPTION_ID=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" <<<"$e" || fail "ARM_SUBSCRIPTION_ID not set from the input"
grep -qx -- "MLINFRA_ENVIRONMENT=production" <<<"$e" || fail "MLINFRA_ENVIRONMENT not set from the input"
grep -qx -- "AZURE_STORAGE_BLOB_ENDPOINT" <<<"$a" && fail "an empty input was passed (AZURE_STORAGE_BLOB_ENDPOINT)"
grep -qx -- "GITHUB_ENV" <<<"$a" && fail "GITHUB_ENV was passed to the container"
grep -qF -- "$rt/_runner_file_commands/set_env_1" <<<"$a" && fail "the step's GITHUB_ENV file is mounted"
grep -qx -- "type=bind,source=$ws,target=$ws" <<<"$a" || fail "the workspace is not mounted at its own path"
grep -qx -- "type=bind,source=$rt/_github_workflow/event.json,target=$rt/_github_workflow/event.json,readonly" <<<"$a" ||
    fail "the event payload is not mounted read-only at its own path"
grep -qx -- "type=bind,source=$rt/_runner_file_commands/set_output_1,target=$rt/_runner_file_commands/set_output_1" <<<"$a" ||
    fail "GITHUB_OUTPUT is not mounted"
grep -qx -- "type=bind,source=$rt/_runner_file_commands/step_summary_1,target=$rt/_runner_file_commands/step_summary_1" <<<"$a" ||
    fail "GITHUB_STEP_SUMMARY is not mounted"
grep -qx -- "$(id -u):$(id -g)" <<<"$a" || fail "the container does not run as the runner's user"
for flag in --read-only --rm --init; do grep -qx -- "$flag" <<<"$a" || fail "missing $flag"; done
grep -qx -- "no-new-privileges" <<<"$a" || fail "missing no-new-privileges"
grep -qx -- "ALL" <<<"$a" || fail "capabilities are not dropped"
grep -qx -- "$ws/infra" <<<"$a" || fail "the working directory is not the workspace's infra/"
[ "$(argv | tail -6 | tr '\n' ' ')" = "ghcr.io/acme/mlinfra@sha256:0000 plan --environment production --repo $ws/infra " ] ||
    fail "the image, command and agent options are not the last arguments: $(argv | tail -6 | tr '\n' ' ')"
[ "$failures" -eq 0 ] && ok "secrets only by name, mounts and hardening flags as expected"

echo "== run: the container's exit code is the step's"
if run_action run FAKE_DOCKER_RC=3 MLINFRA_IMAGE=img INPUT_COMMAND=plan; then
    fail "exit code 3 (policy violation) was lost"
else
    rc=$?
    if [ "$rc" -eq 3 ]; then ok "exit code 3 kept"; else fail "exit code $rc instead of 3"; fi
fi

echo "== run: empty optional inputs are not passed"
run_action run MLINFRA_IMAGE=img INPUT_COMMAND=detect || fail "detect run failed: $(cat "$tmp/out")"
a="$(argv)"
for n in MLINFRA_PLAN_KEY AZURE_STORAGE_KEY ARM_USE_OIDC MLINFRA_ENVIRONMENT GITHUB_TOKEN; do
    grep -qx -- "$n" <<<"$a" && fail "$n passed although empty"
done
[ "$(argv | tail -2 | tr '\n' ' ')" = "img detect " ] || fail "detect got options it does not take: $(argv | tail -2)"
ok "detect without secrets passes none, and no options"

echo "== inputs are checked before anything runs"
refused() { # description expected-message variables...
    local what="$1" msg="$2"
    shift 2
    if run_action run MLINFRA_IMAGE=img "$@"; then
        fail "$what: accepted"
    elif ! grep -qF -- "$msg" "$tmp/out"; then
        fail "$what: expected '$msg' in: $(cat "$tmp/out")"
    elif [ -s "$tmp/docker.log" ]; then
        fail "$what: docker ran anyway"
    else
        ok "$what refused"
    fi
}
refused "unknown command" "must be detect, plan or apply" INPUT_COMMAND=destroy
refused "command injection in the command" "must be detect, plan or apply" 'INPUT_COMMAND=plan; rm -rf /'
refused "environment with a path" "input 'environment'" INPUT_COMMAND=plan INPUT_ENVIRONMENT=../prod
refused "environment with a space" "input 'environment'" INPUT_COMMAND=plan 'INPUT_ENVIRONMENT=prod uction'
refused "working directory outside the workspace" "working-directory" INPUT_COMMAND=plan INPUT_WORKING_DIRECTORY=../../etc
refused "absolute working directory" "working-directory" INPUT_COMMAND=plan INPUT_WORKING_DIRECTORY=/etc
refused "missing working directory" "does not exist" INPUT_COMMAND=plan INPUT_WORKING_DIRECTORY=nope
refused "extra-env with a value" "extra-env" INPUT_COMMAND=plan 'INPUT_EXTRA_ENV=TF_VAR_x=1'
refused "extra-env smuggling an option" "extra-env" INPUT_COMMAND=plan 'INPUT_EXTRA_ENV=--privileged'

echo "== prepare"
: >"$rt/_runner_file_commands/set_output_1"
run_action prepare INPUT_COMMAND=plan INPUT_IMAGE=ghcr.io/acme/mlinfra:v1 || fail "prepare failed: $(cat "$tmp/out")"
grep -qx "image=ghcr.io/acme/mlinfra:v1" "$rt/_runner_file_commands/set_output_1" || fail "prepare did not output the image"
grep -qx "terraform=" "$rt/_runner_file_commands/set_output_1" || fail "prepare did not output an empty terraform override"
[ -s "$tmp/docker.log" ] && fail "prepare ran docker for a published image"
ok "a published image is used as given"

: >"$rt/_runner_file_commands/set_output_1"
run_action prepare INPUT_COMMAND=plan INPUT_IMAGE= || fail "prepare (build) failed: $(cat "$tmp/out")"
if grep -q -- "^build$" <<<"$(argv)" && grep -qx -- "$root" <<<"$(argv)"; then
    ok "an empty image builds the action's Dockerfile"
else
    fail "an empty image did not build from the action's directory: $(argv)"
fi

refused_prepare() { # description expected-message variables...
    local what="$1" msg="$2"
    shift 2
    if run_action prepare INPUT_COMMAND=plan INPUT_IMAGE=img "$@"; then
        fail "$what: accepted"
    elif ! grep -qF -- "$msg" "$tmp/out"; then
        fail "$what: expected '$msg' in: $(cat "$tmp/out")"
    else
        ok "$what refused"
    fi
}
refused_prepare "another terraform without its checksum" "terraform-sha256" INPUT_TERRAFORM_VERSION=1.10.0
refused_prepare "a malformed terraform version" "terraform-version" "INPUT_TERRAFORM_VERSION=1.10;curl x"

# A stand-in curl serves a zip that is not the one the checksum names.
cat >"$tmp/bin/curl" <<'FAKE'
#!/usr/bin/env bash
while [ $# -gt 0 ]; do
    if [ "$1" = "-o" ]; then echo "not terraform" >"$2"; shift; fi
    shift
done
FAKE
chmod +x "$tmp/bin/curl"
refused_prepare "a terraform zip with the wrong SHA-256" "does not match terraform-sha256" \
    INPUT_TERRAFORM_VERSION=1.10.0 INPUT_TERRAFORM_SHA256=4b05f4848d365597cf7ac5b59334c62a16b3bb7b524586578ee45ba823b6758b
[ -e "$rt/mlinfra-terraform-1.10.0/terraform" ] && fail "a terraform binary was unpacked from an unverified zip"

: >"$rt/_runner_file_commands/set_output_1"
run_action prepare INPUT_COMMAND=plan INPUT_IMAGE=img INPUT_TERRAFORM_VERSION=1.9.8 || fail "prepare with the image's version failed"
if grep -qx "terraform=" "$rt/_runner_file_commands/set_output_1"; then
    ok "the image's own terraform version needs no download"
else
    fail "the image's terraform version triggered a download"
fi

if [ "$failures" -gt 0 ]; then
    echo "test_action_script: $failures failure(s)"
    exit 1
fi
echo "test_action_script: all checks passed"
