#!/usr/bin/env bash
# Every shell script in the repository passes shellcheck in the repository: *.sh and files whose first line
# names sh or bash, under scripts/, tests/, bench/ and .ci/ (tests/node_modules excluded).
# A planted mistake shows that the check can fail.
set -euo pipefail
root="${MLINFRA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
command -v shellcheck >/dev/null || { echo "shellcheck missing: run scripts/setup-debian.sh"; exit 1; }

# *.sh files, and extension-less files whose first line is a sh/bash shebang (.ci/run);
# the first lines are read by one awk, not a process per file.
scripts=()
while IFS= read -r -d '' f; do
    scripts+=("$f")
done < <(find "$root/scripts" "$root/tests" "$root/bench" "$root/.ci" \
    -path "$root/tests/node_modules" -prune -o -type f -name '*.sh' -print0 2>/dev/null)
# shellcheck disable=SC2016 # awk's $0, not the shell's
while IFS= read -r f; do
    [ -n "$f" ] && scripts+=("$f")
done < <(find "$root/scripts" "$root/tests" "$root/bench" "$root/.ci" \
    -path "$root/tests/node_modules" -prune -o -type f ! -name '*.*' -print0 2>/dev/null |
    xargs -0 -r awk 'FNR == 1 { if ($0 ~ /^#!.*[\/ ](ba|da)?sh([[:space:]]|$)/) print FILENAME; nextfile }')

if [ "${#scripts[@]}" -lt 5 ]; then
    echo "found only ${#scripts[@]} scripts; the search is broken"
    exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2016 # the planted script's $(...) is meant literally
printf '#!/usr/bin/env bash\nfor f in $(ls *.txt); do rm $f; done\n' >"$tmp/planted.sh"
if shellcheck "$tmp/planted.sh" >/dev/null 2>&1; then
    echo "shellcheck accepted a script with unquoted word splitting; the check cannot fail"
    exit 1
fi

status=0
for f in "${scripts[@]}"; do
    if shellcheck -x --source-path="$(dirname "$f")" "$f"; then
        echo "ok: ${f#"$root"/}"
    else
        status=1
    fi
done
[ "$status" -eq 0 ] && echo "shellcheck: ${#scripts[@]} scripts clean"
exit "$status"
