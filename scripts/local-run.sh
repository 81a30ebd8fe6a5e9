#!/usr/bin/env bash
# The agent's main job, locally, from a fresh Debian 12 machine: installs what it needs,
# builds mlinfra, builds a sample repository with a pull request and runs the agent on it
# as the GitHub workflow would (no GitHub token or Azure account needed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
cmake -S . -B build -DMLINFRA_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)" --target mlinfra
exec scripts/demo.sh build/mlinfra
