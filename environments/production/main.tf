# The production environment: one AKS cluster running MLflow, sized by terraform.tfvars.

locals {
  environment = "production"

  tags = {
    environment = local.environment
    owner       = var.owner
    cost_center = var.cost_center
    managed_by  = "terraform"
    workload    = "mlflow"
  }
}

module "cluster" {
  source = "../../modules/cluster"

  name                 = var.name
  environment          = local.environment
  location             = var.location
  kubernetes_version   = var.kubernetes_version
  sku_tier             = var.aks_sku_tier
  vm_size              = var.node_vm_size
  node_count           = var.node_count
  auto_scaling_enabled = var.node_auto_scaling_enabled
  min_count            = var.node_min_count
  max_count            = var.node_max_count
  zones                = var.zones
  tags                 = local.tags
}

module "mlflow" {
  source = "../../modules/mlflow"

  environment                = local.environment
  location                   = module.cluster.location
  resource_group_name        = module.cluster.resource_group_name
  vnet_name                  = module.cluster.vnet_name
  vnet_id                    = module.cluster.vnet_id
  nodes_subnet_id            = module.cluster.nodes_subnet_id
  replicas                   = var.mlflow_replicas
  cors_allowed_origins       = var.mlflow_cors_allowed_origins
  allowed_hosts              = var.mlflow_allowed_hosts
  public_url                 = var.mlflow_public_url
  database_sku_name          = var.database_sku_name
  database_high_availability = var.database_high_availability
  storage_replication_type   = var.storage_replication_type
  tags                       = local.tags
}
