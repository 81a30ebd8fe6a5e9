# MLflow's exposure and its data stores. modules/mlflow renders the chart's values as JSON
# documents, which policies read as structure (JSON strings in a plan are decoded, as
# terraform-compliance does), so a chart setting is reached by its keys.
Feature: MLflow and its data stores are not open to the world
  In order to protect experiment data and models
  As the platform team
  We keep CORS closed outside dev and the data stores private

  # An open origin list lets any web page drive the tracking API from a user's browser.
  # dev may use it for notebooks and local tools; production never. The first two steps
  # select production plans only: elsewhere the scenario is skipped. The origins are one
  # comma-separated string; "*" as any one of them opens it.
  Scenario: MLflow does not accept every browser origin in production
    Given I have azurerm_kubernetes_cluster defined
    When its tags includes an entry where environment is production
    Given I have helm_release defined
    When its chart is mlflow
    Then it must contain values
    And it must contain extraEnvVars
    And it must contain MLFLOW_SERVER_CORS_ALLOWED_ORIGINS
    And its value must not match the "(.*,)?\*(,.*)?$" regex

  Scenario: The MLflow chart version is pinned
    Given I have helm_release defined
    Then it must contain version
    And its value must match the "^[0-9]+\.[0-9]+\.[0-9]+$" regex

  Scenario: The backend database is not reachable from the internet
    Given I have azurerm_postgresql_flexible_server defined
    Then it must contain public_network_access_enabled
    And its value must be false

  Scenario: The backend database SKU is within budget
    Given I have azurerm_postgresql_flexible_server defined
    Then it must contain sku_name
    And its value must match the "^(B_Standard_B1ms|B_Standard_B2s|GP_Standard_D2ds_v5|GP_Standard_D4ds_v5)$" regex

  Scenario: The artifact store never serves blobs anonymously
    Given I have azurerm_storage_account defined
    Then it must contain allow_nested_items_to_be_public
    And its value must be false

  Scenario: The artifact store only accepts TLS 1.2 or later
    Given I have azurerm_storage_account defined
    Then it must contain min_tls_version
    And its value must be TLS1_2
