#!/usr/bin/env bash
# The organisation's policies (policies/) against fixture plans of the reference platform
# (tests/fixtures/plans/reference-*.json, written by make-reference-plans.js), through
# `mlinfra check`:
#   reference-compliant.json            production, autoscaler ceiling raised   -> pass
#   reference-forbidden-vm-size.json    production nodes on Standard_E16s_v5     -> fail: VM size
#   reference-open-cors-production.json production MLflow open to origin "*"    -> fail: CORS
#   reference-dev-open-cors.json        dev with CORS "*" (allowed in dev)       -> pass
#   production on a Friday (and at both edges of Friday in Amsterdam)          -> window closed
#   dev on a Friday                                                             -> pass
# Each run fixes the clock with --now, so the result does not depend on the day the suite
# runs. The JSON report names the failed scenarios; the terraform-compliance console format
# is checked for its summary line. Skips (exit 0) only while the binary has no check command.
set -euo pipefail
root="${MLINFRA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
bin="${MLINFRA_BINARY:-$root/build/mlinfra}"
plans="$root/tests/fixtures/plans"
policies="$root/policies"

if ! "$bin" check --help >/dev/null 2>&1; then
    echo "SKIP: $bin has no check command yet"
    exit 0
fi

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# A Wednesday and a Friday, mid-morning in Europe; and the two edges of Friday in Amsterdam
# (policies/change-windows.yml keeps Amsterdam's days; UTC+1 in November).
WEDNESDAY=2025-11-19T10:00:00Z
FRIDAY=2025-11-21T10:00:00Z
FRIDAY_STARTS=2025-11-20T23:30:00Z
FRIDAY_ENDED=2025-11-21T23:30:00Z

run_check() { # fixture environment now format; sets rc and out
    set +e
    out="$("$bin" check --plan "$plans/$1" --policies "$policies" --environment "$2" --now "$3" --format "$4" 2>"$tmp/err")"
    rc=$?
    set -e
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The summary of a JSON report, one line: "passed=N failed=N skipped=N window=open|closed
# closed_by=RULE,... failed_scenarios=NAME|NAME".
summarize() {
    # shellcheck disable=SC2016 # JavaScript template strings, not shell expansions
    node -e '
        const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
        const s = d.summary.scenarios, w = d.change_windows || {};
        const failed = d.scenarios.filter((x) => x.status === "failed").map((x) => x.name);
        console.log(`passed=${s.passed} failed=${s.failed} skipped=${s.skipped} ` +
            `window=${w.evaluated ? (w.open ? "open" : "closed") : "none"} ` +
            `closed_by=${(w.closed_by || []).map((c) => c.name || c).join(",")} ` +
            `failed_scenarios=${failed.join("|")}`);
    ' <<<"$out"
}

expect() { # name fixture environment now expected-rc expected-summary
    local name="$1" want_rc="$5" want="$6" got
    run_check "$2" "$3" "$4" json
    if ! got="$(summarize 2>&1)"; then
        fail "$name: the JSON report does not parse: $got; stderr: $(head -5 "$tmp/err")"
        return
    fi
    if [ "$rc" -ne "$want_rc" ]; then
        fail "$name: exit $rc, expected $want_rc ($got)"
    elif [ "$got" != "$want" ]; then
        fail "$name:"$'\n'"      got      $got"$'\n'"      expected $want"
    else
        echo "ok: $name (exit $rc)"
    fi
}

for f in reference-compliant.json reference-forbidden-vm-size.json reference-open-cors-production.json reference-dev-open-cors.json; do
    [ -s "$plans/$f" ] || fail "fixture $f is missing"
done

# 20 scenarios: 4 in cluster.feature, 6 node-ceiling rows, 4 tag rows, 6 in mlflow.feature.
# On a production plan the dev and staging ceiling rows and the extra node pools skip (5);
# on the dev plan, the production and staging rows, the production CORS rule and the node pools.
expect "compliant production plan passes" reference-compliant.json production "$WEDNESDAY" 0 \
    "passed=15 failed=0 skipped=5 window=open closed_by= failed_scenarios="
expect "forbidden VM size fails, and only that" reference-forbidden-vm-size.json production "$WEDNESDAY" 3 \
    "passed=14 failed=1 skipped=5 window=open closed_by= failed_scenarios=The default node pool uses a VM size within budget"
expect "open CORS in production fails, and only that" reference-open-cors-production.json production "$WEDNESDAY" 3 \
    "passed=14 failed=1 skipped=5 window=open closed_by= failed_scenarios=MLflow does not accept every browser origin in production"
expect "open CORS in dev passes" reference-dev-open-cors.json dev "$WEDNESDAY" 0 \
    "passed=14 failed=0 skipped=6 window=open closed_by= failed_scenarios="
expect "production deploy on a Friday is refused" reference-compliant.json production "$FRIDAY" 3 \
    "passed=15 failed=0 skipped=5 window=closed closed_by=no-friday-production-deploys failed_scenarios="
expect "dev deploy on a Friday is allowed" reference-dev-open-cors.json dev "$FRIDAY" 0 \
    "passed=14 failed=0 skipped=6 window=open closed_by= failed_scenarios="
expect "production at 00:30 Friday in Amsterdam (Thursday in UTC) is refused" reference-compliant.json production "$FRIDAY_STARTS" 3 \
    "passed=15 failed=0 skipped=5 window=closed closed_by=no-friday-production-deploys failed_scenarios="
expect "production at 00:30 Saturday in Amsterdam (Friday in UTC) is allowed" reference-compliant.json production "$FRIDAY_ENDED" 0 \
    "passed=15 failed=0 skipped=5 window=open closed_by= failed_scenarios="

# The terraform-compliance console format, for tools that parse it: its summary line and the
# failure line of the CORS rule.
run_check reference-open-cors-production.json production "$WEDNESDAY" terraform-compliance
if [ "$rc" -eq 3 ] && grep -qx '20 scenarios (14 passed, 1 failed, 5 skipped)' <<<"$out" &&
    grep -qE 'Failure: MLFLOW_SERVER_CORS_ALLOWED_ORIGINS property in module\.mlflow\.helm_release\.mlflow' <<<"$out"; then
    echo "ok: terraform-compliance format reports the CORS failure"
else
    fail "terraform-compliance format (exit $rc): $(grep -E 'scenarios \(|Failure' <<<"$out" | head -5)"
fi

if [ "$failures" -gt 0 ]; then
    echo "test_reference_policies: $failures failure(s)"
    exit 1
fi
echo "test_reference_policies: all checks passed"
