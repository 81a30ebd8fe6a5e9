#!/usr/bin/env bash
# Fails when docs/SECURITY.md or docs/hardening.md names a test that does not exist: a guarantee
# is only as good as the test it cites. Names are `suite.test` (a Criterion Test(suite, test) in
# tests/) and `script.name` (tests/scripts/name.sh). A planted wrong name shows first that a
# missing test is caught.
set -euo pipefail
root="${MLINFRA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"

check() { # doc-file...
    python3 - "$root" "$@" <<'PY'
import glob, re, sys
root, docs = sys.argv[1], sys.argv[2:]
sources = "".join(open(f).read() for f in glob.glob(f"{root}/tests/**/*.c", recursive=True))
suites = set(re.findall(r"\bTest(?:Suite)?\(\s*([a-z_][a-z0-9_]*)", sources))
scripts = {f.rsplit("/", 1)[1][:-3] for f in glob.glob(f"{root}/tests/scripts/*.sh")}
missing = []
count = 0
for doc in docs:
    for suite, test in re.findall(r"`([a-z_][a-z0-9_]*)\.([a-z0-9_*]+)`", open(doc).read()):
        if suite == "script":
            count += 1
            if test not in scripts:
                missing.append(f"{doc}: script.{test}")
        elif suite in suites:
            count += 1
            if test == "*":
                continue
            if not re.search(r"\bTest\(\s*" + suite + r",\s*" + re.escape(test) + r"\b", sources):
                missing.append(f"{doc}: {suite}.{test}")
if missing:
    print("tests named in the docs that do not exist:\n  " + "\n  ".join(missing))
    sys.exit(1)
print(f"{count} test names cited, all exist")
PY
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2016 # the backquotes are markdown, not a command
printf '| a guarantee | | `apply.no_such_test_anywhere` |\n' >"$tmp/planted.md"
if check "$tmp/planted.md" >"$tmp/out" 2>&1; then
    echo "FAIL: a planted name of a test that does not exist passed"
    exit 1
fi
grep -q "apply.no_such_test_anywhere" "$tmp/out" || { echo "FAIL: the planted name is not reported"; cat "$tmp/out"; exit 1; }
check "$root/docs/SECURITY.md" "$root/docs/hardening.md"
