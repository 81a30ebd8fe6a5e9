#!/usr/bin/env bash
# SARIF 2.1.0 written by mlinfra is valid against the official SARIF 2.1.0 JSON schema (the
# schemastore.org edition GitHub code scanning checks uploads against), as shipped by the npm
# package @microsoft/jest-sarif (tests/package.json):
#   - every document the report/sarif unit tests render (reference policies against the
#     reference plans, a hand-made result with outlines, warnings, redaction, odd paths);
#   - what `mlinfra plan --sarif FILE` writes (tests/integration/test_apply_extras.c);
#   - `mlinfra check --format sarif` on the reference plans, once the binary has that command;
#   - and a broken document is refused, so the validation itself can fail.
set -euo pipefail
root="${MLINFRA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
bin="${MLINFRA_BINARY:-$root/build/mlinfra}"
build="${MLINFRA_BUILD_DIR:-$(dirname "$bin")}"
nm="$root/tests/node_modules"
schema="${MLINFRA_SARIF_SCHEMA:-$nm/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json}"
validate=(node "$root/tests/scripts/lib/validate_sarif.js" "$schema")

if [ ! -f "$schema" ]; then
    echo "FAIL: the SARIF 2.1.0 schema is missing: $schema"
    echo "      (npm package @microsoft/jest-sarif@1.0.0-beta.0 in tests/package.json; run npm ci in tests/)"
    exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# 1. The validator refuses what is not SARIF.
printf '{"version":"2.1.0","runs":[{"tool":{"driver":{}},"results":[{"level":"fatal"}]}]}\n' >"$tmp/broken.sarif"
if "${validate[@]}" "$tmp/broken.sarif" >"$tmp/broken.log" 2>&1; then
    fail "the validator accepted a broken SARIF document"
fi

# 2. Every document the unit tests render.
mkdir -p "$tmp/unit"
if [ ! -x "$build/unit_test_sarif" ]; then
    fail "$build/unit_test_sarif is not built"
else
    if ! MLINFRA_SARIF_DUMP_DIR="$tmp/unit" "$build/unit_test_sarif" --jobs=1 >"$tmp/unit.log" 2>&1; then
        cat "$tmp/unit.log"
        fail "unit_test_sarif failed"
    fi
    # `mlinfra plan --sarif FILE` end to end (terraform and GitHub doubles).
    if [ -x "$build/integration_test_apply_extras" ]; then
        if ! MLINFRA_SARIF_DUMP_DIR="$tmp/unit" "$build/integration_test_apply_extras" --jobs=1 \
            --filter 'plan_extras/*' >"$tmp/plan.log" 2>&1; then
            cat "$tmp/plan.log"
            fail "integration_test_apply_extras (plan --sarif) failed"
        elif [ ! -f "$tmp/unit/plan-sarif-option.sarif" ]; then
            fail "plan --sarif wrote no SARIF document"
        fi
    else
        fail "$build/integration_test_apply_extras is not built"
    fi
    count=$(find "$tmp/unit" -name '*.sarif' | wc -l)
    if [ "$count" -lt 4 ]; then
        fail "unit_test_sarif wrote $count SARIF documents, expected at least 4"
    elif ! "${validate[@]}" "$tmp"/unit/*.sarif; then
        fail "a SARIF document from the unit tests is not valid"
    fi
fi

# 3. mlinfra check --format sarif, when the binary has it.
if "$bin" check --help 2>/dev/null | grep -q sarif; then
    for fixture in reference-compliant reference-forbidden-vm-size reference-open-cors-production; do
        set +e
        (cd "$root" && "$bin" check --plan "tests/fixtures/plans/$fixture.json" --policies policies \
            --format sarif --environment production --now 2025-11-19T10:00:00Z) \
            >"$tmp/$fixture.sarif" 2>"$tmp/$fixture.err"
        rc=$?
        set -e
        want=3
        [ "$fixture" = reference-compliant ] && want=0
        if [ "$rc" -ne "$want" ]; then
            cat "$tmp/$fixture.err"
            fail "check --format sarif on $fixture: exit $rc, expected $want"
        fi
        if ! "${validate[@]}" "$tmp/$fixture.sarif"; then
            fail "check --format sarif on $fixture is not valid SARIF"
        fi
    done
    if ! grep -q '"uri": "modules/cluster/main.tf"' "$tmp/reference-forbidden-vm-size.sarif"; then
        fail "check --format sarif does not point the VM size violation at modules/cluster/main.tf"
    fi
else
    echo "note: $bin check has no --format sarif yet; validated the unit tests' documents only"
fi

if [ "$failures" -ne 0 ]; then
    echo "$failures failed"
    exit 1
fi
echo "SARIF documents valid against $(basename "$schema")"
