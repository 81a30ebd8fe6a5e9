# Cost reports and on-call routing read these tags.
Feature: Every Azure resource carries the organisation's tags
  In order to know who owns a resource and who pays for it
  As the platform team
  We require the environment, owner, cost_center and managed_by tags

  Scenario Outline: Resources that support tags carry the <tag> tag
    Given I have resource that supports tags defined
    Then it must contain tags
    And it must contain <tag>
    And its value must not be null

    Examples:
      | tag         |
      | environment |
      | owner       |
      | cost_center |
      | managed_by  |
