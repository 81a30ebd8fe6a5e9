#!/usr/bin/env bash
# Fails when agent/ calls a libc function that agent/util/banned.h bans.
set -euo pipefail
root="${MLINFRA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
pattern='\b(strcpy|strcat|strncpy|strncat|sprintf|vsprintf|strtok|atoi|atol|gets|system|popen)[[:space:]]*\('
if hits=$(grep -rnE --include='*.c' --include='*.h' "$pattern" "$root/agent" | grep -v 'agent/util/banned.h'); then
    echo "banned functions used (see agent/util/banned.h):"
    echo "$hits"
    exit 1
fi
echo "banned: no banned function in agent/"
