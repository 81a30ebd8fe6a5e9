variable "name" {
  description = "Helm release name; also the Kubernetes service and PodDisruptionBudget name."
  type        = string
  default     = "mlflow"
}

variable "environment" {
  description = "Environment this MLflow serves (dev, staging, production)."
  type        = string
}

variable "location" {
  description = "Azure region of the data stores (the cluster's)."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the cluster; the data stores join it."
  type        = string
}

variable "vnet_name" {
  description = "Virtual network of the cluster; the database gets a delegated subnet in it."
  type        = string
}

variable "vnet_id" {
  description = "Resource ID of that virtual network, for the private DNS zone link."
  type        = string
}

variable "nodes_subnet_id" {
  description = "Subnet of the cluster's nodes: the only network the artifact store accepts."
  type        = string
}

variable "database_subnet_prefix" {
  description = "Address prefix of the subnet delegated to the PostgreSQL flexible server."
  type        = string
  default     = "10.10.16.0/24"
}

variable "namespace" {
  description = "Kubernetes namespace of the release."
  type        = string
  default     = "mlflow"
}

variable "chart_repository" {
  description = "Helm repository of the MLflow chart."
  type        = string
  default     = "https://community-charts.github.io/helm-charts"
}

variable "chart_version" {
  description = "Exact version of the community-charts/mlflow chart. Pinned: an upgrade is a reviewed change."
  type        = string
  default     = "1.7.3"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.chart_version))
    error_message = "chart_version must be an exact version such as 1.7.3."
  }
}

variable "replicas" {
  description = "Number of MLflow server pods. They share one backend store and one artifact store, so any number serves one consistent tracking server."
  type        = number

  validation {
    condition     = var.replicas >= 1 && var.replicas <= 20 && floor(var.replicas) == var.replicas
    error_message = "replicas must be a whole number from 1 to 20."
  }
}

variable "cors_allowed_origins" {
  description = "Origins allowed to call the MLflow API from a browser. [\"*\"] opens it to every origin, which the policies allow in dev only."
  type        = list(string)

  validation {
    condition     = length(var.cors_allowed_origins) > 0 && alltrue([for o in var.cors_allowed_origins : o == "*" || can(regex("^https?://[^,\"]+$", o))])
    error_message = "cors_allowed_origins must list \"*\" or origins such as https://mlflow.example.com (no commas or quotes)."
  }
}

variable "allowed_hosts" {
  description = "Host headers MLflow answers (its DNS-rebinding protection). [\"*\"] accepts any host."
  type        = list(string)

  validation {
    condition     = length(var.allowed_hosts) > 0 && alltrue([for h in var.allowed_hosts : can(regex("^[A-Za-z0-9*.:-]+$", h))])
    error_message = "allowed_hosts must list host names (wildcards with *, optional :port)."
  }
}

variable "public_url" {
  description = "URL users reach MLflow at (its DNS name pointing at the load balancer). Empty: http://<service IP>:<port>."
  type        = string
  default     = ""
}

variable "service_port" {
  description = "Port of the MLflow LoadBalancer service."
  type        = number
  default     = 5000
}

variable "database_sku_name" {
  description = "SKU of the PostgreSQL flexible server, e.g. B_Standard_B1ms or GP_Standard_D2ds_v5."
  type        = string
}

variable "database_version" {
  description = "PostgreSQL major version."
  type        = string
  default     = "16"
}

variable "database_storage_mb" {
  description = "Storage of the PostgreSQL flexible server, in MB."
  type        = number
  default     = 32768
}

variable "database_high_availability" {
  description = "Run a zone-redundant standby of the database (production)."
  type        = bool
  default     = false
}

variable "database_backup_retention_days" {
  description = "Point-in-time restore window of the database, 7 to 35 days."
  type        = number
  default     = 7
}

variable "storage_replication_type" {
  description = "Replication of the artifact storage account: LRS, ZRS, GRS or GZRS."
  type        = string
  default     = "ZRS"
}

variable "storage_account_prefix" {
  description = "Prefix of the artifact storage account name (a random suffix keeps it globally unique)."
  type        = string
  default     = "stmlflow"
}

variable "artifact_container_name" {
  description = "Blob container holding the MLflow artifacts."
  type        = string
  default     = "mlflow-artifacts"
}

variable "resources" {
  description = "CPU and memory of each MLflow pod."
  type = object({
    cpu_request    = string
    memory_request = string
    memory_limit   = string
  })
  default = {
    cpu_request    = "250m"
    memory_request = "512Mi"
    memory_limit   = "2Gi"
  }
}

variable "tags" {
  description = "Tags applied to every Azure resource (the policies require environment, owner, cost_center, managed_by)."
  type        = map(string)
}
