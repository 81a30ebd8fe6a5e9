# production: three zones, three replicas, a zone-redundant database; only its own origin.
location    = "westeurope"
owner       = "ml-platform"
cost_center = "cc-4711-prod"

kubernetes_version = "1.31.2"
aks_sku_tier       = "Standard"

node_vm_size              = "Standard_D8s_v5"
node_auto_scaling_enabled = true
node_min_count            = 3
node_max_count            = 9
zones                     = ["1", "2", "3"]

mlflow_replicas             = 3
mlflow_cors_allowed_origins = ["https://mlflow.ml.example.com"]
mlflow_allowed_hosts        = ["mlflow.ml.example.com", "mlflow.ml.example.com:5000"]

database_sku_name          = "GP_Standard_D4ds_v5"
database_high_availability = true
storage_replication_type   = "GZRS"
