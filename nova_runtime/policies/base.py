"""The personas every other rule is written with, as upstream Nova defines them."""

from oslo_policy import policy

ADMIN = "rule:context_is_admin"
PROJECT_MEMBER = "rule:project_member_api"
PROJECT_READER = "rule:project_reader_api"
PROJECT_MEMBER_OR_ADMIN = "rule:project_member_or_admin"
PROJECT_READER_OR_ADMIN = "rule:project_reader_or_admin"
PROJECT_MANAGER_OR_ADMIN = "rule:project_manager_or_admin"
SERVICE_OR_ADMIN = "rule:service_or_admin"
ANY = "@"
# The owner of a key pair is a user, not a project.
ADMIN_OR_KEYPAIR_OWNER = f"({ADMIN}) or user_id:%(user_id)s"

rules = [
    policy.RuleDefault(
        "context_is_admin", "role:admin",
        "Decides what is required for the 'is_admin:True' check to succeed."),
    policy.RuleDefault(
        "project_member_api", "role:member and project_id:%(project_id)s",
        "Default rule for Project level non admin APIs."),
    policy.RuleDefault(
        "project_reader_api", "role:reader and project_id:%(project_id)s",
        "Default rule for Project level read only APIs."),
    policy.RuleDefault(
        "project_member_or_admin", "rule:project_member_api or rule:context_is_admin",
        "Default rule for Project Member or admin APIs."),
    policy.RuleDefault(
        "project_reader_or_admin", "rule:project_reader_api or rule:context_is_admin",
        "Default rule for Project reader or admin APIs."),
    policy.RuleDefault(
        "project_manager_api", "role:manager and project_id:%(project_id)s",
        "Default rule for Project level management APIs."),
    policy.RuleDefault(
        "project_manager_or_admin", "rule:project_manager_api or rule:context_is_admin",
        "Default rule for Project Manager or admin APIs."),
    policy.RuleDefault(
        "service_api", "role:service", "Default rule for service-to-service APIs."),
    policy.RuleDefault(
        "service_or_admin", "rule:service_api or rule:context_is_admin",
        "Default rule for service or admin APIs."),
]


def rule(name, check_str, description, operations, scope_types=("project",)):
    """A documented rule; operations are (method, path) pairs."""
    return policy.DocumentedRuleDefault(
        name=name, check_str=check_str, description=description,
        operations=[{"method": method, "path": path} for method, path in operations],
        scope_types=list(scope_types))


def list_rules():
    return rules
