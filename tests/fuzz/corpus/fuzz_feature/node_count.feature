# Node-count ceilings per environment. The environment is read from the cluster's
# `environment` tag (tags.feature makes it mandatory). With the autoscaler on, its upper bound
# (max_count) is what can grow; with it off, the fixed node_count. The other one is null (or,
# under the autoscaler, known only after apply), which the comparison passes over.
Feature: Each environment stays under its node ceiling
  In order to keep each environment's compute spend bounded
  As the platform team
  We cap the nodes of every cluster by environment

  Scenario Outline: The default node pool of a <environment> cluster has at most <ceiling> nodes (<count>)
    Given I have azurerm_kubernetes_cluster defined
    When its tags includes an entry where environment is <environment>
    Then it must contain default_node_pool
    And it must contain <count>
    And its value must be less and equal to <ceiling>

    Examples:
      | environment | count      | ceiling |
      | dev         | node_count | 3       |
      | dev         | max_count  | 3       |
      | staging     | node_count | 5       |
      | staging     | max_count  | 5       |
      | production  | node_count | 12      |
      | production  | max_count  | 12      |
