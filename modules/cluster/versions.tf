# The module names its providers but leaves the exact versions to the root configuration
# (environments/*/versions.tf), which pins them for every module it uses.
terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 4.0.0, < 5.0.0"
    }
  }
}
