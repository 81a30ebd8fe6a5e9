#!/usr/bin/env bash
# The agent's main job, locally, from a fresh Debian 12 machine: installs what it needs,
# builds mlinfra (and the terraform test double, used when no terraform is installed), then
# runs the whole cycle on a sample repository as the GitHub workflows would: a pull request
# is planned (the comment printed here), merged, and applied (the service address printed).
# No GitHub token or Azure account is needed: plans go to a local plan store.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
cmake -S . -B build -DMLINFRA_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)" --target mlinfra terraform_double
exec scripts/demo.sh build/mlinfra "$@"
