variable "mlflow_version" {
  description = "The MLflow server image tag."
  type        = string
  default     = "v2.16.2"
}

variable "replicas" {
  description = "How many tracking-server pods serve the team."
  type        = number
  default     = 1
}

variable "tracking_password" {
  description = "The tracking server's admin password (a stand-in for a secret)."
  type        = string
  default     = "local-demo-password"
  sensitive   = true
}
