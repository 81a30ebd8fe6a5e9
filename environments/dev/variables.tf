variable "name" {
  description = "Base name of the platform's resources."
  type        = string
  default     = "mlplatform"
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "owner" {
  description = "Team that owns the environment (the owner tag)."
  type        = string
}

variable "cost_center" {
  description = "Cost center the environment is billed to (the cost_center tag)."
  type        = string
}

variable "kubernetes_version" {
  description = "Exact AKS Kubernetes version."
  type        = string
}

variable "aks_sku_tier" {
  description = "AKS control plane tier (Free or Standard)."
  type        = string
}

variable "node_vm_size" {
  description = "VM size of the system node pool."
  type        = string
}

variable "node_count" {
  description = "Node count when autoscaling is off."
  type        = number
  default     = 1
}

variable "node_auto_scaling_enabled" {
  description = "Autoscale the system node pool."
  type        = bool
  default     = false
}

variable "node_min_count" {
  description = "Autoscaler lower bound."
  type        = number
  default     = null
}

variable "node_max_count" {
  description = "Autoscaler upper bound."
  type        = number
  default     = null
}

variable "zones" {
  description = "Availability zones of the node pool."
  type        = list(string)
  default     = []
}

variable "mlflow_replicas" {
  description = "Number of MLflow server pods."
  type        = number
}

variable "mlflow_cors_allowed_origins" {
  description = "Browser origins allowed to call MLflow (\"*\" only in dev)."
  type        = list(string)
}

variable "mlflow_allowed_hosts" {
  description = "Host headers MLflow answers."
  type        = list(string)
}

variable "mlflow_public_url" {
  description = "URL users reach MLflow at; empty for http://<load balancer IP>:5000."
  type        = string
  default     = ""
}

variable "database_sku_name" {
  description = "SKU of the PostgreSQL flexible server."
  type        = string
}

variable "database_high_availability" {
  description = "Zone-redundant standby and geo-redundant backups for the database."
  type        = bool
  default     = false
}

variable "storage_replication_type" {
  description = "Replication of the artifact storage account."
  type        = string
  default     = "ZRS"
}
