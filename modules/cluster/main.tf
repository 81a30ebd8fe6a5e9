# The AKS cluster that hosts MLflow: its resource group, a virtual network shared with the
# MLflow data stores (modules/mlflow adds its own delegated subnet to it), and the cluster
# itself with a managed identity (no service principal secret to rotate) and Kubernetes RBAC.

resource "azurerm_resource_group" "this" {
  name     = "rg-${var.name}-${var.environment}"
  location = var.location
  tags     = var.tags
}

resource "azurerm_virtual_network" "this" {
  name                = "vnet-${var.name}-${var.environment}"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  address_space       = var.vnet_address_space
  tags                = var.tags
}

resource "azurerm_subnet" "nodes" {
  name                 = "snet-aks-nodes"
  resource_group_name  = azurerm_resource_group.this.name
  virtual_network_name = azurerm_virtual_network.this.name
  address_prefixes     = [var.nodes_subnet_prefix]
  # The artifact store only accepts traffic from this subnet (see modules/mlflow).
  service_endpoints = ["Microsoft.Storage"]
}

resource "azurerm_kubernetes_cluster" "this" {
  name                = "aks-${var.name}-${var.environment}"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  dns_prefix          = "${var.name}-${var.environment}"
  kubernetes_version  = var.kubernetes_version
  sku_tier            = var.sku_tier

  role_based_access_control_enabled = true
  oidc_issuer_enabled               = true
  workload_identity_enabled         = true
  node_os_upgrade_channel           = "NodeImage"

  default_node_pool {
    name                 = "system"
    vm_size              = var.vm_size
    orchestrator_version = var.kubernetes_version
    vnet_subnet_id       = azurerm_subnet.nodes.id
    zones                = var.zones
    os_disk_size_gb      = var.os_disk_size_gb

    # azurerm 4.x names. With the autoscaler on, node_count is left to it (null), so that a
    # plan never fights the autoscaler over the current size.
    auto_scaling_enabled = var.auto_scaling_enabled
    node_count           = var.auto_scaling_enabled ? null : var.node_count
    min_count            = var.auto_scaling_enabled ? var.min_count : null
    max_count            = var.auto_scaling_enabled ? var.max_count : null

    # Changing the VM size rotates the pool through a temporary one instead of replacing
    # the whole cluster, and upgrades surge new nodes before draining old ones.
    temporary_name_for_rotation = "systemtmp"

    upgrade_settings {
      max_surge = "33%"
    }

    tags = var.tags
  }

  identity {
    type = "SystemAssigned"
  }

  network_profile {
    network_plugin    = "azure"
    network_policy    = "azure"
    load_balancer_sku = "standard"
    service_cidr      = var.service_cidr
    dns_service_ip    = var.dns_service_ip
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition = !var.auto_scaling_enabled || (
        var.min_count != null && var.max_count != null && try(var.min_count <= var.max_count, false)
      )
      error_message = "auto_scaling_enabled needs min_count and max_count, with min_count <= max_count."
    }
  }
}
