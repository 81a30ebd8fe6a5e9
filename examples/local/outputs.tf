output "service_ip" {
  description = "The MLflow service's IP address."
  value       = terraform_data.mlflow_ip.output
}

output "service_url" {
  description = "The MLflow tracking server's URL."
  value       = terraform_data.mlflow_url.output
}

output "tracking_password" {
  description = "Sensitive: never shown in a report."
  value       = var.tracking_password
  sensitive   = true
}
