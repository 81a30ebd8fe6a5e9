# The organisation's rules for every AKS cluster, whatever the environment.
Feature: AKS clusters are secured, pinned and within budget
  In order to run the ML platform safely and at a known cost
  As the platform team
  We require Kubernetes RBAC, an exact Kubernetes version and approved VM sizes

  Scenario: Kubernetes RBAC is enabled on every cluster
    Given I have azurerm_kubernetes_cluster defined
    Then it must contain role_based_access_control_enabled
    And its value must be true

  Scenario: Every cluster pins an exact Kubernetes version
    Given I have azurerm_kubernetes_cluster defined
    Then it must contain kubernetes_version
    And its value must match the "^[0-9]+\.[0-9]+\.[0-9]+$" regex

  Scenario: The default node pool uses a VM size within budget
    Given I have azurerm_kubernetes_cluster defined
    Then it must contain default_node_pool
    And it must contain vm_size
    And its value must match the "^Standard_D(2|4|8)s_v5$" regex

  Scenario: Additional node pools use a VM size within budget
    Given I have azurerm_kubernetes_cluster_node_pool defined
    Then it must contain vm_size
    And its value must match the "^Standard_(D(2|4|8)s_v5|NC(4|8)as_T4_v3)$" regex
