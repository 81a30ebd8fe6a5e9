#!/usr/bin/env bash
# The README's main job (scripts/local-run.sh runs scripts/demo.sh) on the built binary and
# the terraform double: a pull request is planned, merged and applied, the service address
# printed, and the re-run reports "already applied". Checks what a reader of the demo sees,
# and that the sensitive output never shows.
set -euo pipefail
root="${MLINFRA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
bin="${MLINFRA_BINARY:-$root/build/mlinfra}"
if [ ! -x "$(dirname "$bin")/doubles/terraform" ]; then
    echo "the terraform double is not built next to $bin"
    exit 1
fi

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
status=0
"$root/scripts/demo.sh" "$bin" --double >"$out" 2>&1 || status=$?

failures=0
expect() { grep -qF -- "$1" "$out" || { echo "FAIL: the demo's output lacks: $1"; failures=$((failures + 1)); }; }
[ "$status" -eq 0 ] || { echo "FAIL: demo.sh exited $status"; failures=$((failures + 1)); }
expect "uses the TEST DOUBLE"
expect "### 📝 Terraform plan for \`dev\`"
expect "sealed the plan of pull request #1"
expect "commit "
expect "merged pull request #1"
expect "Apply complete! Resources: 3 added, 0 changed, 0 destroyed."
expect "#### ✅ Applied to \`dev\`"
expect "address=http://127.0.0.1:5000"
expect "service_url=http://127.0.0.1:5000"
expect "result=already-applied"
expect "done: MLflow (the stand-in) is at http://127.0.0.1:5000"
if grep -q "local-demo-password" "$out"; then
    echo "FAIL: the sensitive output's value appears in the demo's output"
    failures=$((failures + 1))
fi
if [ "$failures" -gt 0 ]; then
    echo "--- the demo's output:"
    cat "$out"
    exit 1
fi
echo "ok: the demo planned, merged, applied and reported the address"
