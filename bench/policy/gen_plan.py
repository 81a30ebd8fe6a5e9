#!/usr/bin/env python3
"""Writes a `terraform show -json`-shaped plan with N resource changes (default 10,000, about
100 MB): AKS clusters and node pools, storage accounts and containers, key vaults, network
security groups with rules, PostgreSQL servers, Helm releases carrying big rendered values,
and S3-style buckets with policies; each change has before/after/after_unknown, planned_values
repeats the after values, and the configuration references resources so that references are
mounted as terraform-compliance mounts them. Deterministic for a given N.

usage: gen_plan.py N OUT.json
"""
import json
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
out = sys.argv[2] if len(sys.argv) > 2 else "plan.json"
rnd = random.Random(42)
regions = ["westeurope", "northeurope", "eastus", "westus2"]
envs = ["dev", "staging", "production"]


def tags(i):
    t = {"environment": envs[i % 3], "owner": "team-%d" % (i % 17), "cost-center": str(1000 + i % 50),
         "managed-by": "terraform", "repository": "org/mlinfra"}
    if i % 11 == 0:
        del t["owner"]
    return t


POOL = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789- ") for _ in range(1 << 16))


def blob(k, size):
    """size pseudo-random characters (a slice of a fixed random pool, for speed)"""
    if not k:
        return ""
    start = rnd.randrange(0, len(POOL) - size)
    return POOL[start:start + size]


def resource(i):
    kind = i % 8
    name = "r%05d" % i
    if kind == 0:
        t = "azurerm_kubernetes_cluster"
        v = {"name": "aks-" + name, "location": regions[i % 4], "kubernetes_version": "1.29.%d" % (i % 9),
             "role_based_access_control_enabled": i % 13 != 0, "sku_tier": "Standard",
             "default_node_pool": [{"name": "system", "vm_size": "Standard_D4s_v5" if i % 29 else "Standard_E16s_v5",
                                    "node_count": 3, "max_count": 5 + i % 10, "min_count": 1,
                                    "enable_auto_scaling": True, "zones": ["1", "2", "3"],
                                    "upgrade_settings": [{"max_surge": "33%"}], "node_labels": {"pool": "system"}}],
             "network_profile": [{"network_plugin": "azure", "network_policy": "calico",
                                  "service_cidr": "10.%d.0.0/16" % (i % 200), "dns_service_ip": "10.%d.0.10" % (i % 200)}],
             "identity": [{"type": "SystemAssigned"}], "tags": tags(i),
             "api_server_access_profile": [{"authorized_ip_ranges": ["10.0.0.0/8", "192.168.%d.0/24" % (i % 250)]}],
             "oms_agent": [{"log_analytics_workspace_id": "/subscriptions/x/workspaces/" + blob(1, 40)}]}
        unk = {"id": True, "kube_config": True, "fqdn": True, "node_resource_group_id": True}
    elif kind == 1:
        t = "azurerm_kubernetes_cluster_node_pool"
        v = {"name": "pool" + name[-3:], "vm_size": ["Standard_D8s_v5", "Standard_NC4as_T4_v3", "Standard_D2s_v5"][i % 3],
             "node_count": 2, "max_count": 4 + i % 6, "enable_auto_scaling": True, "mode": "User",
             "node_taints": ["sku=gpu:NoSchedule"] if i % 3 == 1 else [], "tags": tags(i),
             "kubernetes_cluster_id": "/subscriptions/x/resourceGroups/rg/providers/aks/" + name}
        unk = {"id": True}
    elif kind == 2:
        t = "azurerm_storage_account"
        v = {"name": "st" + name, "location": regions[i % 4], "account_tier": "Standard",
             "account_replication_type": "ZRS", "min_tls_version": "TLS1_2" if i % 23 else "TLS1_0",
             "allow_nested_items_to_be_public": i % 31 == 0, "https_traffic_only_enabled": True,
             "network_rules": [{"default_action": "Deny", "bypass": ["AzureServices"],
                                "ip_rules": ["203.0.113.%d" % (i % 250)], "virtual_network_subnet_ids": []}],
             "blob_properties": [{"versioning_enabled": True, "delete_retention_policy": [{"days": 7}],
                                  "cors_rule": []}], "tags": tags(i)}
        unk = {"id": True, "primary_access_key": True, "primary_blob_endpoint": True}
    elif kind == 3:
        t = "azurerm_network_security_group"
        rules = [{"name": "rule%d" % k, "priority": 100 + k, "direction": "Inbound", "access": "Allow",
                  "protocol": "Tcp", "source_port_range": "*",
                  "destination_port_range": str([22, 443, 80, 5432][k % 4]),
                  "source_address_prefix": "0.0.0.0/0" if (i + k) % 37 == 0 else "10.0.0.0/8",
                  "destination_address_prefix": "*", "description": blob(1, 30)} for k in range(6)]
        v = {"name": "nsg-" + name, "location": regions[i % 4], "security_rule": rules, "tags": tags(i)}
        unk = {"id": True}
    elif kind == 4:
        t = "azurerm_postgresql_flexible_server"
        v = {"name": "pg-" + name, "sku_name": "GP_Standard_D2ds_v5", "version": "15", "storage_mb": 65536,
             "public_network_access_enabled": i % 19 == 0, "backup_retention_days": 7 + i % 20,
             "geo_redundant_backup_enabled": True, "administrator_login": "mlflow",
             "high_availability": [{"mode": "ZoneRedundant"}], "tags": tags(i)}
        unk = {"id": True, "fqdn": True}
    elif kind == 5:
        t = "helm_release"
        values = json.dumps({"image": {"repository": "ghcr.io/mlflow/mlflow", "tag": "2.%d.0" % (i % 20)},
                             "extraEnvVars": {"MLFLOW_SERVER_CORS_ALLOWED_ORIGINS": "*" if i % 41 == 0 else "https://ml.example.com"},
                             "resources": {"limits": {"cpu": "2", "memory": "4Gi"}},
                             "annotations": {("a%d" % k): blob(1, 60) for k in range(20)}})
        v = {"name": "mlflow-" + name, "chart": "mlflow", "version": "0.7.%d" % (i % 10),
             "repository": "https://community-charts.github.io/helm-charts", "namespace": "mlflow",
             "values": [values], "atomic": True, "timeout": 600,
             "set": [{"name": "service.type", "value": "LoadBalancer", "type": ""}]}
        unk = {"id": True, "manifest": True, "metadata": True}
    elif kind == 6:
        t = "azurerm_key_vault"
        v = {"name": "kv-" + name, "sku_name": "standard", "purge_protection_enabled": i % 7 != 0,
             "soft_delete_retention_days": 90, "enable_rbac_authorization": True,
             "network_acls": [{"default_action": "Deny", "bypass": "AzureServices", "ip_rules": []}],
             "access_policy": [{"object_id": blob(1, 36), "tenant_id": blob(1, 36),
                                "secret_permissions": ["Get", "List"], "key_permissions": []} for _ in range(3)],
             "tags": tags(i)}
        unk = {"id": True, "vault_uri": True}
    else:
        t = "aws_s3_bucket"
        policy = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "s%d" % k, "Effect": "Deny" if k % 2 else "Allow", "Principal": "*",
             "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b-%s/%s/*" % (name, blob(1, 20))} for k in range(8)]})
        v = {"bucket": "b-" + name, "acl": "private" if i % 9 else "public-read", "force_destroy": False,
             "policy": policy, "tags": tags(i),
             "versioning": [{"enabled": i % 5 != 0, "mfa_delete": False}],
             "server_side_encryption_configuration": [{"rule": [{"apply_server_side_encryption_by_default": [
                 {"sse_algorithm": "aws:kms", "kms_master_key_id": "arn:aws:kms:eu-west-1:1:key/" + blob(1, 36)}]}]}]}
        unk = {"id": True, "arn": True}
    # a long description on everything, to reach ~10 kB per change in total
    v["description"] = blob(1, 2300)
    return t, name, v, unk


changes, planned, config = [], [], []
for i in range(n):
    t, name, v, unk = resource(i)
    addr = "%s.%s" % (t, name)
    if i % 4 == 0:
        addr = "module.m%d.%s" % (i % 10, addr)
    actions = [["create"], ["update"], ["delete", "create"], ["no-op"]][i % 4]
    before = None if actions == ["create"] else dict(v, description=blob(1, 2300))
    changes.append({"address": addr, "mode": "managed", "type": t, "name": name,
                    "provider_name": "registry.terraform.io/hashicorp/azurerm",
                    "change": {"actions": actions, "before": before, "after": v, "after_unknown": unk,
                               "before_sensitive": {}, "after_sensitive": {}}})
    planned.append({"address": addr, "mode": "managed", "type": t, "name": name, "schema_version": 0,
                    "provider_name": "registry.terraform.io/hashicorp/azurerm", "values": v})
    if i % 50 == 0 and not addr.startswith("module."):
        ref = "azurerm_kubernetes_cluster.r%05d" % (i - i % 8)
        config.append({"address": addr, "mode": "managed", "type": t, "name": name,
                       "provider_config_key": "azurerm",
                       "expressions": {"name": {"constant_value": v.get("name", name)},
                                       "cluster_id": {"references": [ref + ".id", ref]}}})

doc = {"format_version": "1.2", "terraform_version": "1.6.6",
       "variables": {"environment": {"value": "production"}, "location": {"value": "westeurope"}},
       "planned_values": {"root_module": {"resources": planned}},
       "resource_changes": changes,
       "configuration": {"provider_config": {"azurerm": {"name": "azurerm", "full_name": "registry.terraform.io/hashicorp/azurerm",
                                                         "version_constraint": "~> 3.100"}},
                         "root_module": {"resources": config,
                                         "variables": {"environment": {"default": "dev"}, "location": {}}}}}
with open(out, "w") as f:
    json.dump(doc, f)
