variable "name" {
  description = "Base name of the cluster; the resource group, network and cluster names are derived from it."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment this cluster serves (dev, staging, production)."
  type        = string
}

variable "location" {
  description = "Azure region, e.g. westeurope."
  type        = string
}

variable "kubernetes_version" {
  description = "Exact AKS Kubernetes version (major.minor.patch). Pinned so that an upgrade is a reviewed change."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.kubernetes_version))
    error_message = "kubernetes_version must be an exact version such as 1.31.2."
  }
}

variable "sku_tier" {
  description = "AKS control plane tier: Free (no SLA) or Standard (financially backed uptime SLA)."
  type        = string
  default     = "Free"

  validation {
    condition     = contains(["Free", "Standard", "Premium"], var.sku_tier)
    error_message = "sku_tier must be Free, Standard or Premium."
  }
}

variable "vm_size" {
  description = "VM size of the default (system) node pool."
  type        = string
}

variable "node_count" {
  description = "Number of nodes when autoscaling is off. Ignored when auto_scaling_enabled is true."
  type        = number
  default     = 1
}

variable "auto_scaling_enabled" {
  description = "Let the cluster autoscaler size the default node pool between min_count and max_count."
  type        = bool
  default     = false
}

variable "min_count" {
  description = "Lower bound of the autoscaler. Required when auto_scaling_enabled is true."
  type        = number
  default     = null
}

variable "max_count" {
  description = "Upper bound of the autoscaler. Required when auto_scaling_enabled is true."
  type        = number
  default     = null
}

variable "zones" {
  description = "Availability zones of the default node pool; empty for regions without zones."
  type        = list(string)
  default     = []
}

variable "os_disk_size_gb" {
  description = "OS disk size of each node."
  type        = number
  default     = 128
}

variable "vnet_address_space" {
  description = "Address space of the cluster's virtual network."
  type        = list(string)
  default     = ["10.10.0.0/16"]
}

variable "nodes_subnet_prefix" {
  description = "Address prefix of the node subnet (Azure CNI gives pods addresses from it too)."
  type        = string
  default     = "10.10.0.0/20"
}

variable "service_cidr" {
  description = "Kubernetes service address range; must not overlap the virtual network."
  type        = string
  default     = "10.250.0.0/16"
}

variable "dns_service_ip" {
  description = "Address of the cluster DNS service, inside service_cidr."
  type        = string
  default     = "10.250.0.10"
}

variable "tags" {
  description = "Tags applied to every resource (the policies require environment, owner, cost_center, managed_by)."
  type        = map(string)
}
