#!/usr/bin/env bash
# action.yml and every workflow validate against GitHub's schemas (@action-validator/cli),
# and keep the rules the schemas cannot express (tests/scripts/lib/check_workflows.py):
# least-privilege permissions, per-environment apply concurrency that never cancels, the
# production environment's protection, no expression pasted into a script, no
# pull_request_target or workflow_run trigger. Broken copies show that both checks fail when
# they should.
set -euo pipefail
root="${MLINFRA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
validator="$root/tests/node_modules/.bin/action-validator"
[ -x "$validator" ] || { echo "action-validator missing: run scripts/setup-debian.sh"; exit 1; }

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

validate() { # file; action-validator picks the schema from the name (action.yml or not)
    local out
    if out="$("$validator" "$1" 2>&1)"; then
        return 0
    fi
    printf '%s\n' "$out" | head -40
    return 1
}

echo "== schemas"
files=("$root/action.yml" "$root"/workflows/*.yml)
[ "${#files[@]}" -ge 5 ] || fail "expected action.yml and at least four workflows, found ${#files[@]} files"
for f in "${files[@]}"; do
    if validate "$f"; then echo "ok: ${f#"$root"/}"; else fail "${f#"$root"/} does not validate"; fi
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "== the schemas refuse broken copies"
# One process for all copies (lib/validate_actions.mjs: the CLI's library); each must fail.
mkdir -p "$tmp/bad-action"
sed '/^      shell: bash$/d' "$root/action.yml" >"$tmp/bad-action/action.yml"
sed 's/      pull-requests: write/      pull-requests: admin/' "$root/workflows/mlinfra.yml" >"$tmp/bad-permission.yml"
sed 's/^    runs-on: .*$//' "$root/workflows/mlinfra.yml" >"$tmp/no-runs-on.yml"
sed 's/^on:$/onn:/' "$root/workflows/dev.yml" >"$tmp/no-trigger.yml"
out="$(node "$root/tests/scripts/lib/validate_actions.mjs" "$tmp/bad-action/action.yml" "$tmp/bad-permission.yml" \
    "$tmp/no-runs-on.yml" "$tmp/no-trigger.yml" 2>&1 || true)"
for f in bad-action/action.yml bad-permission.yml no-runs-on.yml no-trigger.yml; do
    if grep -qx -- "invalid: $tmp/$f" <<<"$out"; then echo "ok: $f refused"; else fail "$f validated"; fi
done

echo "== rules beyond the schema"
if ! python3 -c 'import yaml' 2>/dev/null; then
    # python3-yaml is not in every fresh Debian image; the schema checks above still ran.
    echo "SKIP: rules beyond the schema need python3-yaml (apt-get install python3-yaml)"
else
    check="$root/tests/scripts/lib/check_workflows.py"
    python3 "$check" "$root" || fail "check_workflows.py found problems"

    broken() { # name file sed-expression expected-message
        local copy="$tmp/rules-$1" out
        mkdir -p "$copy"
        cp -r "$root/action.yml" "$root/workflows" "$root/environments" "$copy/"
        mkdir -p "$copy/scripts" && cp "$root/scripts/action.sh" "$copy/scripts/"
        sed -i -e "$3" "$copy/$2"
        if cmp -s "$root/$2" "$copy/$2"; then fail "$1: the mutation did not change $2"; return; fi
        if out="$(python3 "$check" "$copy")"; then
            fail "$1: accepted"
        elif ! grep -qF -- "$4" <<<"$out"; then
            fail "$1: expected '$4' in: $out"
        else
            echo "ok: $1"
        fi
    }
    # Some sed scripts below hold GitHub expressions (${{ }}), meant literally.
    broken cancelling-apply workflows/mlinfra.yml 's/cancel-in-progress: false/cancel-in-progress: true/' 'never cancel a running apply'
    # shellcheck disable=SC2016
    broken no-environment-protection workflows/mlinfra.yml 's/name: ${{ inputs.environment }}/name: default/' 'GitHub environment'
    broken too-many-permissions workflows/mlinfra.yml '0,/      contents: read/s//      contents: write/' 'permissions are'
    broken top-level-permissions workflows/mlinfra.yml 's/^permissions: {}/permissions: write-all/' 'top-level permissions'
    broken expression-in-script action.yml "s|run: '\"\$GITHUB_ACTION_PATH/scripts/action.sh\" prepare'|run: echo \${{ inputs.command }}|" 'expression inside run'
    # shellcheck disable=SC2016
    broken secret-outside-env action.yml 's|^    - name: Prepare mlinfra|    - name: Prepare ${{ inputs.plan-key }}|' 'secret input plan-key'
    broken missing-output action.yml 's/^  service_url:/  service_uri:/' 'output service_url is missing'
    broken wrong-branch workflows/staging.yml 's/branches: \[staging\]/branches: [main]/' 'must filter on branch staging'
    broken missing-path workflows/production.yml '0,/      - "modules\/\*\*"/s///' 'paths must include modules/**'
    broken missing-secret workflows/dev.yml '/MLINFRA_PLAN_KEY:/d' 'required secret MLINFRA_PLAN_KEY'
    broken unpinned-checkout workflows/mlinfra.yml '0,/actions\/checkout@[0-9a-f]*/s//actions\/checkout@v4/' 'not pinned to a commit'
    # Triggers whose runs give a fork's code the secrets (docs/SECURITY.md, section 2), planted
    # beside the real ones and in each form `on:` takes (map, list).
    broken pull-request-target-trigger workflows/dev.yml 's/^on:$/on:\n  pull_request_target:\n    branches: [dev]/' 'runs on pull_request_target'
    broken workflow-run-trigger workflows/mlinfra.yml 's/^on:$/on:\n  workflow_run:\n    workflows: [mlinfra dev]\n    types: [completed]/' 'runs on workflow_run'
    broken pull-request-target-in-a-list workflows/staging.yml 's/^on:$/on: [push, pull_request_target]\nformer-on:/' 'workflows/staging.yml: runs on pull_request_target'
fi

if [ "$failures" -gt 0 ]; then
    echo "test_action_workflows: $failures failure(s)"
    exit 1
fi
echo "test_action_workflows: all checks passed"
