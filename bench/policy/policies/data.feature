Feature: Data stores
  Scenario: storage needs TLS 1.2
    Given I have azurerm_storage_account defined
    Then it must contain min_tls_version
    And its value must be TLS1_2

  Scenario: no anonymous blobs
    Given I have azurerm_storage_account defined
    Then it must contain allow_nested_items_to_be_public
    And its value must be false

  Scenario: storage firewall denies by default
    Given I have azurerm_storage_account defined
    Then it must contain network_rules
    And it must contain default_action
    And its value must be Deny

  Scenario: databases are private
    Given I have azurerm_postgresql_flexible_server defined
    Then it must contain public_network_access_enabled
    And its value must be false

  Scenario: backups are kept a week
    Given I have azurerm_postgresql_flexible_server defined
    Then it must contain backup_retention_days
    And its value must be greater and equal than 7

  Scenario: buckets are private
    Given I have aws_s3_bucket defined
    When its acl is public-read
    Then it must fail

  Scenario: buckets are versioned
    Given I have aws_s3_bucket defined
    Then it must contain versioning
    And it must contain enabled
    And its value must be true

  Scenario: key vaults keep deleted keys
    Given I have azurerm_key_vault defined
    Then it must contain purge_protection_enabled
    And its value must be true
