#!/usr/bin/env bash
# The terraform-compliance functional suite (tests/fixtures/terraform-compliance) against the
# built binary, judged as the original project's runner judges it: every runnable case must
# pass (the suite ends "corpus: N passed, 0 failed, 1 skipped"). Then a stricter check: the
# console transcript of every case (--format terraform-compliance) must be the one the
# original tool printed (golden/CASE.stdout), from the first feature to the summary.
set -euo pipefail
root="${MLINFRA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
bin="${MLINFRA_BINARY:-$root/build/mlinfra}"
fixtures="$root/tests/fixtures/terraform-compliance"

if ! command -v python3 >/dev/null; then
    echo "test_corpus: python3 is needed to run the corpus judge" >&2
    exit 1
fi

out="$(python3 "$fixtures/run-terraform-compliance-corpus" --bin "$bin" --cases "$fixtures/cases")"
printf '%s\n' "$out"
summary="$(tail -1 <<<"$out")"
if ! grep -qE '^corpus: [0-9]+ passed, 0 failed, [0-9]+ skipped$' <<<"$summary"; then
    echo "test_corpus: FAIL: $summary" >&2
    exit 1
fi
passed="$(sed -nE 's/^corpus: ([0-9]+) passed.*/\1/p' <<<"$summary")"
if [ "$passed" -lt 89 ]; then
    echo "test_corpus: FAIL: only $passed cases ran and passed (expected 89)" >&2
    exit 1
fi

# Golden transcripts. The original's paths are relative (tests/functional/CASE/); both sides
# are cut to the part after "> Running tests." and before radish's closing lines.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
body() { # file -> the transcript body, paths reduced to file names, trailing blank lines dropped
    sed -n '/^> Running tests/,$p' "$1" | sed '1,2d' |
        grep -v -e '^The --wip switch' -e '^Run <RUN-UUID>' -e '^ - tests/functional' |
        sed -E 's#(tests/functional|[^ ]*/cases)/[^/ ]*/##' |
        sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}
differ=0
checked=0
while IFS=$'\t' read -r case flags _; do
    [ "$case" = case ] && continue
    dir="$fixtures/cases/$case"
    if [ ! -f "$fixtures/golden/$case.stdout" ] || [ ! -f "$dir/test.feature" ]; then
        continue
    fi
    args=(check --plan "$dir/plan.out.json" --policies "$dir" --format terraform-compliance)
    [[ "$flags" == *-q* ]] || args+=(--no-early-exit)
    set +e
    "$bin" "${args[@]}" >"$tmp/out" 2>"$tmp/err"
    set -e
    body "$fixtures/golden/$case.stdout" >"$tmp/want"
    body "$tmp/out" >"$tmp/got"
    checked=$((checked + 1))
    if ! diff -u "$tmp/want" "$tmp/got" >"$tmp/diff"; then
        differ=$((differ + 1))
        echo "transcript differs from the original's: $case"
        head -40 "$tmp/diff" | sed 's/^/    /'
    fi
done <"$fixtures/golden/INDEX.tsv"
echo "golden transcripts: $checked compared, $differ differ"
[ "$differ" -eq 0 ] && [ "$checked" -ge 89 ]
