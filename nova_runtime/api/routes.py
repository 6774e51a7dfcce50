"""The route table of Compute API v2.1: path template -> method -> handler.

Paths are relative to /v2.1. A literal path is listed before a template that
would also match it (/flavors/detail before /flavors/{flavor_id}).
``Versioned`` limits a handler to a range of microversions; outside it the
path is 404, as upstream answers.
"""

from nova_runtime.api.handlers import (
    aggregates,
    availability_zones,
    console_auth_tokens,
    extensions,
    flavors,
    hosts,
    hypervisors,
    image_metadata,
    images,
    instance_actions,
    instance_usage_audit_log,
    ips,
    keypairs,
    limits,
    migrations,
    networks,
    quota_class_sets,
    quota_sets,
    remote_consoles,
    server_actions,
    server_diagnostics,
    server_external_events,
    server_groups,
    server_metadata,
    server_password,
    servers,
    services,
    simple_tenant_usage,
    tags,
)
from nova_runtime.api.router import Versioned

ROUTES = {
    "/servers": {"GET": servers.index, "POST": servers.create},
    "/servers/detail": {"GET": servers.detail},
    "/servers/{server_id}": {
        "GET": servers.show,
        "PUT": servers.update,
        "DELETE": servers.delete,
    },
    "/servers/{server_id}/action": {"POST": server_actions.action},
    "/servers/{server_id}/metadata": {
        "GET": server_metadata.index,
        "POST": server_metadata.create,
        "PUT": server_metadata.update_all,
    },
    "/servers/{server_id}/metadata/{key}": {
        "GET": server_metadata.show,
        "PUT": server_metadata.update,
        "DELETE": server_metadata.delete,
    },
    "/servers/{server_id}/os-server-password": {
        "GET": server_password.show,
        "DELETE": server_password.clear,
    },
    "/servers/{server_id}/ips": {"GET": ips.index},
    "/servers/{server_id}/ips/{network_label}": {"GET": ips.show},
    "/servers/{server_id}/tags": {
        "GET": Versioned(tags.index, "2.26"),
        "PUT": Versioned(tags.update_all, "2.26"),
        "DELETE": Versioned(tags.delete_all, "2.26"),
    },
    "/servers/{server_id}/tags/{tag}": {
        "GET": Versioned(tags.show, "2.26"),
        "PUT": Versioned(tags.update, "2.26"),
        "DELETE": Versioned(tags.delete, "2.26"),
    },
    "/servers/{server_id}/os-instance-actions": {"GET": instance_actions.index},
    "/servers/{server_id}/os-instance-actions/{request_id}": {"GET": instance_actions.show},
    "/flavors": {"GET": flavors.index, "POST": flavors.create},
    "/flavors/detail": {"GET": flavors.detail},
    "/flavors/{flavor_id}": {
        "GET": flavors.show,
        "PUT": Versioned(flavors.update, "2.55"),
        "DELETE": flavors.delete,
    },
    "/flavors/{flavor_id}/action": {"POST": flavors.action},
    "/flavors/{flavor_id}/os-flavor-access": {"GET": flavors.list_access},
    "/flavors/{flavor_id}/os-extra_specs": {
        "GET": flavors.list_extra_specs,
        "POST": flavors.create_extra_specs,
    },
    "/flavors/{flavor_id}/os-extra_specs/{key}": {
        "GET": flavors.show_extra_spec,
        "PUT": flavors.update_extra_spec,
        "DELETE": flavors.delete_extra_spec,
    },
    "/os-keypairs": {"GET": keypairs.index, "POST": keypairs.create},
    "/os-keypairs/{keypair_name}": {"GET": keypairs.show, "DELETE": keypairs.delete},
    "/os-services": {"GET": services.index},
    # Before 2.53 {service_id} is an action: enable, disable, disable-log-reason, force-down.
    "/os-services/{service_id}": {"PUT": services.update, "DELETE": services.delete},
    "/os-hypervisors": {"GET": hypervisors.index},
    "/os-hypervisors/detail": {"GET": hypervisors.detail},
    "/os-hypervisors/statistics": {"GET": Versioned(hypervisors.statistics, maximum="2.87")},
    "/os-hypervisors/{hypervisor_id}": {"GET": hypervisors.show},
    "/os-hypervisors/{hypervisor_id}/uptime": {
        "GET": Versioned(hypervisors.uptime, maximum="2.87"),
    },
    "/os-hypervisors/{hypervisor_hostname_pattern}/search": {
        "GET": Versioned(hypervisors.search, maximum="2.52"),
    },
    "/os-hypervisors/{hypervisor_hostname_pattern}/servers": {
        "GET": Versioned(hypervisors.servers, maximum="2.52"),
    },
    "/os-availability-zone": {"GET": availability_zones.index},
    "/os-availability-zone/detail": {"GET": availability_zones.detail},
    "/os-aggregates": {"GET": aggregates.index, "POST": aggregates.create},
    "/os-aggregates/{aggregate_id}": {
        "GET": aggregates.show,
        "PUT": aggregates.update,
        "DELETE": aggregates.delete,
    },
    "/os-aggregates/{aggregate_id}/action": {"POST": aggregates.action},
    "/os-aggregates/{aggregate_id}/images": {
        "POST": Versioned(aggregates.cache_images, "2.81"),
    },
    "/os-server-groups": {"GET": server_groups.index, "POST": server_groups.create},
    "/os-server-groups/{server_group_id}": {
        "GET": server_groups.show,
        "DELETE": server_groups.delete,
    },
    "/limits": {"GET": limits.index},
    "/os-quota-sets/{tenant_id}": {
        "GET": quota_sets.show,
        "PUT": quota_sets.update,
        "DELETE": quota_sets.delete,
    },
    "/os-quota-sets/{tenant_id}/defaults": {"GET": quota_sets.defaults},
    "/os-quota-sets/{tenant_id}/detail": {"GET": quota_sets.detail},
    "/servers/{server_id}/remote-consoles": {"POST": Versioned(remote_consoles.create, "2.6")},
    "/os-simple-tenant-usage": {"GET": simple_tenant_usage.index},
    "/os-simple-tenant-usage/{tenant_id}": {"GET": simple_tenant_usage.show},
    "/os-instance_usage_audit_log": {"GET": instance_usage_audit_log.index},
    "/os-instance_usage_audit_log/{before_timestamp}": {
        "GET": instance_usage_audit_log.show,
    },
    "/os-migrations": {"GET": migrations.index},
    "/servers/{server_id}/migrations": {"GET": Versioned(migrations.server_index, "2.23")},
    "/servers/{server_id}/migrations/{migration_id}": {
        "GET": Versioned(migrations.server_show, "2.23"),
    },
    "/servers/{server_id}/diagnostics": {"GET": server_diagnostics.index},
    "/os-server-external-events": {"POST": server_external_events.create},
    "/os-quota-class-sets/{quota_class}": {
        "GET": quota_class_sets.show,
        "PUT": quota_class_sets.update,
    },
    # Proxies of the deprecated API: images to Glance until 2.35 (their metadata
    # until 2.38), the flat network until 2.35, hosts until 2.42.
    "/images": {"GET": Versioned(images.index, maximum="2.35")},
    "/images/detail": {"GET": Versioned(images.detail, maximum="2.35")},
    "/images/{image_id}": {
        "GET": Versioned(images.show, maximum="2.35"),
        "DELETE": Versioned(images.delete, maximum="2.35"),
    },
    "/images/{image_id}/metadata": {
        "GET": Versioned(image_metadata.index, maximum="2.38"),
        "POST": Versioned(image_metadata.create, maximum="2.38"),
        "PUT": Versioned(image_metadata.update_all, maximum="2.38"),
    },
    "/images/{image_id}/metadata/{key}": {
        "GET": Versioned(image_metadata.show, maximum="2.38"),
        "PUT": Versioned(image_metadata.update, maximum="2.38"),
        "DELETE": Versioned(image_metadata.delete, maximum="2.38"),
    },
    "/os-networks": {"GET": Versioned(networks.index, maximum="2.35")},
    "/os-networks/{network_id}": {"GET": Versioned(networks.show, maximum="2.35")},
    "/os-hosts": {"GET": Versioned(hosts.index, maximum="2.42")},
    "/os-hosts/{host_name}": {
        "GET": Versioned(hosts.show, maximum="2.42"),
        "PUT": Versioned(hosts.update, maximum="2.42"),
    },
    "/os-hosts/{host_name}/reboot": {"GET": Versioned(hosts.reboot, maximum="2.42")},
    "/os-hosts/{host_name}/shutdown": {"GET": Versioned(hosts.shutdown, maximum="2.42")},
    "/os-hosts/{host_name}/startup": {"GET": Versioned(hosts.startup, maximum="2.42")},
    "/os-console-auth-tokens/{console_token}": {"GET": console_auth_tokens.show},
    "/extensions": {"GET": extensions.index},
    "/extensions/{alias}": {"GET": extensions.show},
}
