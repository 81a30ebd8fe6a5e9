output "resource_group_name" {
  description = "Resource group holding the cluster and its network."
  value       = azurerm_resource_group.this.name
}

output "location" {
  description = "Azure region of the cluster."
  value       = azurerm_resource_group.this.location
}

output "cluster_name" {
  description = "Name of the AKS cluster."
  value       = azurerm_kubernetes_cluster.this.name
}

output "cluster_id" {
  description = "Resource ID of the AKS cluster."
  value       = azurerm_kubernetes_cluster.this.id
}

output "vnet_name" {
  description = "Virtual network the MLflow data stores join."
  value       = azurerm_virtual_network.this.name
}

output "vnet_id" {
  description = "Resource ID of the virtual network."
  value       = azurerm_virtual_network.this.id
}

output "nodes_subnet_id" {
  description = "Subnet of the nodes; the artifact store admits traffic from it only."
  value       = azurerm_subnet.nodes.id
}

output "oidc_issuer_url" {
  description = "OIDC issuer of the cluster, for workload identity federation."
  value       = azurerm_kubernetes_cluster.this.oidc_issuer_url
}

output "host" {
  description = "API server endpoint, for the kubernetes and helm providers."
  value       = azurerm_kubernetes_cluster.this.kube_config[0].host
  sensitive   = true
}

output "client_certificate" {
  description = "Client certificate (base64 PEM) for the kubernetes and helm providers."
  value       = azurerm_kubernetes_cluster.this.kube_config[0].client_certificate
  sensitive   = true
}

output "client_key" {
  description = "Client key (base64 PEM) for the kubernetes and helm providers."
  value       = azurerm_kubernetes_cluster.this.kube_config[0].client_key
  sensitive   = true
}

output "cluster_ca_certificate" {
  description = "Cluster CA certificate (base64 PEM)."
  value       = azurerm_kubernetes_cluster.this.kube_config[0].cluster_ca_certificate
  sensitive   = true
}

output "kube_config" {
  description = "The whole kubeconfig document."
  value       = azurerm_kubernetes_cluster.this.kube_config_raw
  sensitive   = true
}
