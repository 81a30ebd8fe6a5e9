terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.36"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 2.17"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # State in Azure Blob storage, reached with the workflow's OIDC token (no storage key):
  # the client, tenant and subscription come from ARM_CLIENT_ID, ARM_TENANT_ID and
  # ARM_SUBSCRIPTION_ID, which the mlinfra action sets.
  backend "azurerm" {
    resource_group_name  = "rg-mlinfra-tfstate"
    storage_account_name = "stmlinfratfstate"
    container_name       = "tfstate"
    key                  = "dev/mlflow.tfstate"
    use_oidc             = true
    use_azuread_auth     = true
  }
}
