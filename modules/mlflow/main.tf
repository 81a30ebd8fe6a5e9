# MLflow's tracking server on the cluster, with its state kept outside the pods: runs and
# the model registry in Azure Database for PostgreSQL, artifacts in a Blob container. Because
# no pod holds state, any number of replicas serve one consistent tracking server, and a
# rolling update (no pod unavailable, one surged) plus a PodDisruptionBudget keep it serving
# through upgrades, scaling and node drains.

locals {
  # Storage account names are global, 3-24 lowercase letters and digits.
  storage_account_name = "${substr(lower(replace("${var.storage_account_prefix}${var.environment}", "/[^a-z0-9]/", "")), 0, 18)}${random_string.suffix.result}"
  server_name          = "psql-${var.name}-${var.environment}-${random_string.suffix.result}"
  database_name        = "mlflow"
  database_secret_name = "${var.name}-database"

  # The chart's values as two JSON documents (Helm reads JSON as YAML). JSON because the
  # policies read JSON strings in a plan as structure (policies/mlflow.feature checks the CORS
  # origins by key). Two because the first holds what is known when planning, so the plan,
  # the PR comment and the policies show it even before the first apply, and the second what
  # Azure assigns (host and account names), unknown until then.
  chart_values = {
    replicaCount = var.replicas
    strategy = {
      type = "RollingUpdate"
      rollingUpdate = {
        maxSurge       = 1
        maxUnavailable = 0
      }
    }
    service = {
      type = "LoadBalancer"
      port = var.service_port
    }
    telemetry = {
      enabled = false
    }
    extraEnvVars = {
      MLFLOW_SERVER_ALLOWED_HOSTS        = join(",", var.allowed_hosts)
      MLFLOW_SERVER_CORS_ALLOWED_ORIGINS = join(",", var.cors_allowed_origins)
    }
    resources = {
      requests = {
        cpu    = var.resources.cpu_request
        memory = var.resources.memory_request
      }
      limits = {
        memory = var.resources.memory_limit
      }
    }
    # Spread the replicas over nodes (and so over zones) where the scheduler can.
    affinity = {
      podAntiAffinity = {
        preferredDuringSchedulingIgnoredDuringExecution = [{
          weight = 100
          podAffinityTerm = {
            topologyKey = "kubernetes.io/hostname"
            labelSelector = {
              matchLabels = local.selector_labels
            }
          }
        }]
      }
    }
  }

  chart_store_values = {
    backendStore = {
      databaseMigration       = true
      databaseConnectionCheck = true
      postgres = {
        enabled  = true
        host     = azurerm_postgresql_flexible_server.this.fqdn
        port     = 5432
        database = local.database_name
      }
      existingDatabaseSecret = {
        name        = local.database_secret_name
        usernameKey = "username"
        passwordKey = "password"
      }
    }
    artifactRoot = {
      # Clients upload and download through the server, so they never need storage keys.
      proxiedArtifactStorage = true
      azureBlob = {
        enabled        = true
        container      = azurerm_storage_container.artifacts.name
        storageAccount = azurerm_storage_account.artifacts.name
      }
    }
  }

  # The chart's selector labels (mlflow.selectorLabels): chart name and release name.
  selector_labels = {
    "app.kubernetes.io/name"     = "mlflow"
    "app.kubernetes.io/instance" = var.name
  }
}

resource "random_string" "suffix" {
  length  = 6
  upper   = false
  special = false
}

# Letters and digits only: the chart builds the database URI from it without escaping.
resource "random_password" "database" {
  length  = 40
  special = false
}

# ---------------------------------------------------------------------------------------
# Backend store: PostgreSQL flexible server, reachable only from the cluster's network.
# ---------------------------------------------------------------------------------------

resource "azurerm_subnet" "database" {
  name                 = "snet-${var.name}-postgres"
  resource_group_name  = var.resource_group_name
  virtual_network_name = var.vnet_name
  address_prefixes     = [var.database_subnet_prefix]

  delegation {
    name = "postgres-flexible-server"
    service_delegation {
      name    = "Microsoft.DBforPostgreSQL/flexibleServers"
      actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
    }
  }
}

resource "azurerm_private_dns_zone" "database" {
  name                = "${local.server_name}.private.postgres.database.azure.com"
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "database" {
  name                  = "${var.name}-postgres"
  resource_group_name   = var.resource_group_name
  private_dns_zone_name = azurerm_private_dns_zone.database.name
  virtual_network_id    = var.vnet_id
  tags                  = var.tags
}

resource "azurerm_postgresql_flexible_server" "this" {
  name                          = local.server_name
  resource_group_name           = var.resource_group_name
  location                      = var.location
  version                       = var.database_version
  sku_name                      = var.database_sku_name
  storage_mb                    = var.database_storage_mb
  backup_retention_days         = var.database_backup_retention_days
  geo_redundant_backup_enabled  = var.database_high_availability
  delegated_subnet_id           = azurerm_subnet.database.id
  private_dns_zone_id           = azurerm_private_dns_zone.database.id
  public_network_access_enabled = false
  administrator_login           = "mlflow"
  administrator_password        = random_password.database.result
  zone                          = "1"

  authentication {
    password_auth_enabled         = true
    active_directory_auth_enabled = false
  }

  dynamic "high_availability" {
    for_each = var.database_high_availability ? [1] : []
    content {
      mode                      = "ZoneRedundant"
      standby_availability_zone = "2"
    }
  }

  tags = var.tags

  # Azure swaps the zones on a failover; following it back would be a pointless change.
  lifecycle {
    ignore_changes = [zone, high_availability[0].standby_availability_zone]
  }

  depends_on = [azurerm_private_dns_zone_virtual_network_link.database]
}

resource "azurerm_postgresql_flexible_server_database" "mlflow" {
  name      = local.database_name
  server_id = azurerm_postgresql_flexible_server.this.id
  charset   = "UTF8"
  collation = "en_US.utf8"
}

# ---------------------------------------------------------------------------------------
# Artifact store: a private Blob container, reachable from the nodes' subnet only.
# ---------------------------------------------------------------------------------------

resource "azurerm_storage_account" "artifacts" {
  name                            = local.storage_account_name
  resource_group_name             = var.resource_group_name
  location                        = var.location
  account_kind                    = "StorageV2"
  account_tier                    = "Standard"
  account_replication_type        = var.storage_replication_type
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  allow_nested_items_to_be_public = false
  shared_access_key_enabled       = true

  blob_properties {
    versioning_enabled = true

    delete_retention_policy {
      days = 14
    }

    container_delete_retention_policy {
      days = 14
    }
  }

  network_rules {
    default_action             = "Deny"
    bypass                     = ["AzureServices"]
    virtual_network_subnet_ids = [var.nodes_subnet_id]
  }

  tags = var.tags
}

# Created through the management plane (storage_account_id), so the network rules above do
# not lock the runner out.
resource "azurerm_storage_container" "artifacts" {
  name                  = var.artifact_container_name
  storage_account_id    = azurerm_storage_account.artifacts.id
  container_access_type = "private"
}

# ---------------------------------------------------------------------------------------
# The release.
# ---------------------------------------------------------------------------------------

resource "kubernetes_namespace_v1" "mlflow" {
  metadata {
    name = var.namespace
    labels = {
      "app.kubernetes.io/managed-by" = "terraform"
      "environment"                  = var.environment
    }
  }
}

resource "kubernetes_secret_v1" "database" {
  metadata {
    name      = local.database_secret_name
    namespace = kubernetes_namespace_v1.mlflow.metadata[0].name
  }

  data = {
    username = azurerm_postgresql_flexible_server.this.administrator_login
    password = random_password.database.result
  }

  type = "Opaque"
}

resource "helm_release" "mlflow" {
  name       = var.name
  namespace  = kubernetes_namespace_v1.mlflow.metadata[0].name
  repository = var.chart_repository
  chart      = "mlflow"
  version    = var.chart_version

  # A failed upgrade rolls back instead of leaving a half-upgraded release.
  atomic          = true
  cleanup_on_fail = true
  wait            = true
  timeout         = 900
  max_history     = 10

  values = [jsonencode(local.chart_values), jsonencode(local.chart_store_values)]

  # Kept out of the values document so that it never shows in a plan or a PR comment.
  set_sensitive {
    name  = "artifactRoot.azureBlob.accessKey"
    value = azurerm_storage_account.artifacts.primary_access_key
  }

  depends_on = [
    kubernetes_secret_v1.database,
    azurerm_postgresql_flexible_server_database.mlflow,
  ]
}

# At most one pod down at a time for voluntary disruptions (node drains during cluster
# upgrades and scale-downs). With one replica (dev) this still lets a drain proceed.
resource "kubernetes_pod_disruption_budget_v1" "mlflow" {
  metadata {
    name      = var.name
    namespace = kubernetes_namespace_v1.mlflow.metadata[0].name
  }

  spec {
    max_unavailable = "1"
    selector {
      match_labels = local.selector_labels
    }
  }

  depends_on = [helm_release.mlflow]
}

# Read back after the release so that the outputs carry the load balancer's address.
data "kubernetes_service_v1" "mlflow" {
  metadata {
    name      = var.name
    namespace = kubernetes_namespace_v1.mlflow.metadata[0].name
  }

  depends_on = [helm_release.mlflow]
}
