#!/usr/bin/env bash
# The reference fixture plans are exactly what tests/fixtures/plans/make-reference-plans.js
# writes (so a change to the generator or the fixtures is made in both), have the shape of a
# terraform 1.9 saved plan, and the open-CORS policy regex tells them apart as intended
# (tests/scripts/lib/check_fixtures.js).
set -euo pipefail
root="${MLINFRA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

status=0
node "$root/tests/fixtures/plans/make-reference-plans.js" "$tmp"
for f in "$tmp"/reference-*.json; do
    name="$(basename "$f")"
    if cmp -s "$f" "$root/tests/fixtures/plans/$name"; then
        echo "ok: $name is what the generator writes"
    else
        echo "FAIL: tests/fixtures/plans/$name differs from the generator's output (run the generator)"
        status=1
    fi
done
node "$root/tests/scripts/lib/check_fixtures.js" "$root" || status=1

# The checker must notice a fixture whose CORS is opened without it being meant.
mkdir -p "$tmp/copy/tests/fixtures" "$tmp/copy/policies" "$tmp/copy/environments"
cp -r "$root/tests/fixtures/plans" "$tmp/copy/tests/fixtures/"
cp -r "$root/environments/production" "$tmp/copy/environments/"
cp "$root/policies/mlflow.feature" "$tmp/copy/policies/"
cp -r "$root/modules" "$tmp/copy/"
sed -i 's#MLFLOW_SERVER_CORS_ALLOWED_ORIGINS\\":\\"https://mlflow.ml.example.com\\"#MLFLOW_SERVER_CORS_ALLOWED_ORIGINS\\":\\"*\\"#g' \
    "$tmp/copy/tests/fixtures/plans/reference-compliant.json"
if cmp -s "$tmp/copy/tests/fixtures/plans/reference-compliant.json" "$root/tests/fixtures/plans/reference-compliant.json"; then
    echo "FAIL: the planted change did not apply"
    status=1
elif node "$root/tests/scripts/lib/check_fixtures.js" "$tmp/copy" >/dev/null; then
    echo "FAIL: check_fixtures accepted a compliant fixture with open CORS"
    status=1
else
    echo "ok: a fixture opened by mistake is noticed"
fi
exit "$status"
