Feature: Platform
  Scenario: no SSH from the internet
    Given I have azurerm_network_security_group defined
    Then it must contain security_rule
    And it must contain source_address_prefix
    And its value must not be 0.0.0.0/0

  Scenario: MLflow CORS is closed
    Given I have helm_release defined
    When its chart is mlflow
    Then it must contain values
    And its value must not match the ".*MLFLOW_SERVER_CORS_ALLOWED_ORIGINS.{4}\*.*" regex

  Scenario: charts are pinned
    Given I have helm_release defined
    Then it must contain version
    And its value must match the "^[0-9]+\.[0-9]+\.[0-9]+$" regex

  Scenario Outline: everything is tagged with <tag>
    Given I have resource that supports tags defined
    Then it must contain tags
    And it must contain <tag>

    Examples:
      | tag         |
      | environment |
      | owner       |

  Scenario: there are not too many clusters
    Given I have azurerm_kubernetes_cluster defined
    When I count them
    Then I expect the result is less than 5000
