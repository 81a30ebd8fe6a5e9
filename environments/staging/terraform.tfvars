# staging: production's shape at a smaller scale, to rehearse upgrades with several replicas.
location    = "westeurope"
owner       = "ml-platform"
cost_center = "cc-4711-staging"

kubernetes_version = "1.31.2"
aks_sku_tier       = "Standard"

node_vm_size              = "Standard_D4s_v5"
node_auto_scaling_enabled = true
node_min_count            = 2
node_max_count            = 4
zones                     = ["1", "2", "3"]

mlflow_replicas             = 2
mlflow_cors_allowed_origins = ["https://mlflow-staging.ml.example.com"]
mlflow_allowed_hosts        = ["mlflow-staging.ml.example.com", "mlflow-staging.ml.example.com:5000"]

database_sku_name          = "GP_Standard_D2ds_v5"
database_high_availability = false
storage_replication_type   = "ZRS"
