locals {
  service_ip = try(data.kubernetes_service_v1.mlflow.status[0].load_balancer[0].ingress[0].ip, "")
}

output "service_ip" {
  description = "Public IP of MLflow's load balancer (empty until Azure assigns it)."
  value       = local.service_ip
}

output "service_url" {
  description = "URL of the MLflow tracking server."
  value       = var.public_url != "" ? var.public_url : (local.service_ip == "" ? "" : "http://${local.service_ip}:${var.service_port}")
}

output "namespace" {
  description = "Kubernetes namespace of the release."
  value       = kubernetes_namespace_v1.mlflow.metadata[0].name
}

output "database_fqdn" {
  description = "Private FQDN of the PostgreSQL backend store."
  value       = azurerm_postgresql_flexible_server.this.fqdn
}

output "artifact_store" {
  description = "Artifact store location (wasbs URI)."
  value       = "wasbs://${azurerm_storage_container.artifacts.name}@${azurerm_storage_account.artifacts.name}.blob.core.windows.net/"
}
