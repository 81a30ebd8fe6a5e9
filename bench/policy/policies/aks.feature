Feature: AKS clusters
  Scenario: RBAC is on
    Given I have azurerm_kubernetes_cluster defined
    Then it must contain role_based_access_control_enabled
    And its value must be true

  Scenario: versions are pinned
    Given I have azurerm_kubernetes_cluster defined
    Then it must contain kubernetes_version
    And its value must match the "^[0-9]+\.[0-9]+\.[0-9]+$" regex

  Scenario: system pools use approved sizes
    Given I have azurerm_kubernetes_cluster defined
    Then it must contain default_node_pool
    And it must contain vm_size
    And its value must match the "^Standard_D(2|4|8)s_v5$" regex

  Scenario: user pools use approved sizes
    Given I have azurerm_kubernetes_cluster_node_pool defined
    Then it must contain vm_size
    And its value must match the "^Standard_(D(2|4|8)s_v5|NC(4|8)as_T4_v3)$" regex

  Scenario: the API server is not open to the world
    Given I have azurerm_kubernetes_cluster defined
    Then it must contain api_server_access_profile
    And it must contain authorized_ip_ranges
    And its value must not contain 0.0.0.0/0

  Scenario: autoscaling ceiling
    Given I have azurerm_kubernetes_cluster_node_pool defined
    Then it must contain max_count
    And its value must be less than 20
