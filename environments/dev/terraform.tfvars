# dev: the smallest footprint that still runs the whole platform; open to the team's tools.
location    = "westeurope"
owner       = "ml-platform"
cost_center = "cc-4711-dev"

kubernetes_version = "1.31.5"
aks_sku_tier       = "Free"

node_vm_size              = "Standard_D2s_v5"
node_auto_scaling_enabled = false
node_count                = 2

mlflow_replicas             = 1
mlflow_cors_allowed_origins = ["*"]
mlflow_allowed_hosts        = ["*"]

database_sku_name          = "B_Standard_B1ms"
database_high_availability = false
storage_replication_type   = "LRS"
