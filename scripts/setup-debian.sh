#!/usr/bin/env bash
# Installs what building and testing mlinfra needs on Debian 12: the C toolchain and
# libraries from Debian's packages, and the pinned test servers from tests/package-lock.json.
# Idempotent: packages already present are not reinstalled, npm ci runs only when needed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config git curl ca-certificates
          libcurl4-openssl-dev libssl-dev libjansson-dev libgit2-dev libsodium-dev libyaml-dev
          libcriterion-dev clang libclang-rt-14-dev shellcheck valgrind python3 python3-yaml
          nodejs npm)
missing=()
for p in "${packages[@]}"; do
    # nodejs from another source (nodesource) also serves; npm ships with it there.
    if [ "$p" = npm ] || [ "$p" = nodejs ]; then
        command -v "${p/nodejs/node}" >/dev/null 2>&1 && continue
    fi
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    sudo_cmd=()
    [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
    echo "setup: installing ${missing[*]}"
    "${sudo_cmd[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm ci only when the lockfile changed since the last install.
stamp=tests/node_modules/.mlinfra-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s tests/package-lock.json "$stamp"; then
    (cd tests && npm ci --no-audit --no-fund --loglevel=error)
    cp tests/package-lock.json "$stamp"
fi
