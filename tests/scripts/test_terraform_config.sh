#!/usr/bin/env bash
# The reference Terraform (environments/, modules/) parses and hangs together: module
# sources resolve, required variables are passed, references exist, providers and terraform
# are pinned, the backend uses OIDC, tfvars set what has no default (tests/scripts/lib/tfcheck.js).
# Then the checker is shown to catch each kind of mistake on a broken copy.
set -euo pipefail
root="${MLINFRA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
check="$root/tests/scripts/lib/tfcheck.js"
[ -d "$root/tests/node_modules/@cdktf/hcl2json" ] || { echo "tests/node_modules missing: run scripts/setup-debian.sh"; exit 1; }

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

echo "== the repository's configuration"
if ! node "$check" "$root"; then
    fail "the repository's Terraform does not pass tfcheck"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Each case: a name, a sed expression applied to one file of a fresh copy, and the message
# tfcheck must print for that copy. The copies are checked in one run (the HCL parser is
# slow to load).
names=()
expects=()
mutate() { # name file sed-expression expected-message
    local name="$1" file="$2" expr="$3" copy="$tmp/$1"
    mkdir -p "$copy"
    cp -r "$root/environments" "$root/modules" "$copy/"
    sed -i -e "$expr" "$copy/$file"
    if cmp -s "$root/$file" "$copy/$file"; then
        fail "$name: the mutation did not change $file"
        return
    fi
    names+=("$name")
    expects+=("$4")
}

mutate missing-required-variable environments/dev/main.tf '/vm_size *= var.node_vm_size/d' 'does not pass vm_size'
mutate unknown-argument environments/staging/main.tf 's/^  zones  *= var.zones/  zonez = var.zones/' 'passes zonez'
mutate unpinned-provider environments/production/versions.tf '/hashicorp\/helm/{n;d}' 'provider helm is not pinned'
mutate wrong-azurerm-major environments/dev/versions.tf 's/version = "~> 4.0"/version = "~> 3.0"/' 'azurerm must be "~> 4.0"'
mutate no-oidc-backend environments/dev/versions.tf 's/use_oidc             = true/use_oidc             = false/' 'use_oidc = true'
mutate unresolved-source environments/staging/main.tf 's#../../modules/mlflow#../../modules/mlfow#' 'does not resolve'
mutate syntax-error modules/cluster/main.tf 's/^resource "azurerm_subnet" "nodes" {/resource "azurerm_subnet" "nodes" {{/' 'does not parse'
mutate unknown-output environments/dev/outputs.tf 's/module.mlflow.service_url/module.mlflow.service_uri/' 'does not output'
mutate undeclared-variable modules/mlflow/main.tf 's/var.storage_replication_type/var.storage_replication/' 'reads var.storage_replication'
mutate tfvars-missing environments/production/terraform.tfvars '/^mlflow_replicas/d' 'does not set mlflow_replicas'
mutate tfvars-undeclared environments/dev/terraform.tfvars 's/^owner /ownr /' 'sets ownr'
mutate provider-not-required modules/mlflow/versions.tf '/random = {/,/}/d' 'uses the random provider'

echo "== broken copies are refused"
out="$(cd "$tmp" && { node "$check" "${names[@]}" || true; })"
for i in "${!names[@]}"; do
    name="${names[$i]}"
    mine="$(grep -F -- "$name: " <<<"$out" || true)"
    if grep -qF -- "$name: tfcheck: " <<<"$mine" && ! grep -qF -- "problem(s)" <<<"$mine"; then
        fail "$name: tfcheck accepted it"
    elif ! grep -qF -- "${expects[$i]}" <<<"$mine"; then
        fail "$name: expected '${expects[$i]}' among: ${mine:-(nothing)}"
    else
        echo "ok: $name"
    fi
done

if [ "$failures" -gt 0 ]; then
    echo "test_terraform_config: $failures failure(s)"
    exit 1
fi
echo "test_terraform_config: all checks passed"
