# Credentials come from the environment (ARM_USE_OIDC, ARM_CLIENT_ID, ARM_TENANT_ID,
# ARM_SUBSCRIPTION_ID): nothing secret is written here.
provider "azurerm" {
  use_oidc            = true
  storage_use_azuread = true

  features {
    resource_group {
      prevent_deletion_if_contains_resources = true
    }
  }
}

# The cluster's own credentials, read from the cluster module. Terraform configures these
# providers only once the cluster exists, which the first apply creates before the release.
provider "kubernetes" {
  host                   = module.cluster.host
  client_certificate     = base64decode(module.cluster.client_certificate)
  client_key             = base64decode(module.cluster.client_key)
  cluster_ca_certificate = base64decode(module.cluster.cluster_ca_certificate)
}

provider "helm" {
  kubernetes {
    host                   = module.cluster.host
    client_certificate     = base64decode(module.cluster.client_certificate)
    client_key             = base64decode(module.cluster.client_key)
    cluster_ca_certificate = base64decode(module.cluster.cluster_ca_certificate)
  }
}
