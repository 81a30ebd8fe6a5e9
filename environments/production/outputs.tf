output "service_ip" {
  description = "Public IP of the MLflow load balancer."
  value       = module.mlflow.service_ip
}

output "service_url" {
  description = "URL of the MLflow tracking server."
  value       = module.mlflow.service_url
}

output "cluster_name" {
  description = "Name of the AKS cluster."
  value       = module.cluster.cluster_name
}

output "resource_group_name" {
  description = "Resource group of the environment."
  value       = module.cluster.resource_group_name
}
