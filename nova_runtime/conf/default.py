"""[DEFAULT]: identity of this host, its services and the resources it offers."""

import socket

from oslo_config import cfg, types
from oslo_utils import netutils

# The fake.*Fails* drivers fail on purpose, for tests of reschedules and failed resizes.
COMPUTE_DRIVERS = ("fake.FakeDriver", "libvirt.LibvirtDriver",
                   "fake.SpawnFailsDriver", "fake.MigrationFailsDriver")
API_NAMES = ("osapi_compute", "metadata")
NOOP_FIREWALL = "nova.virt.firewall.NoopFirewallDriver"

opts = [
    cfg.HostDomainOpt(
        "host", default=socket.gethostname(), sample_default="<current_hostname>",
        help="Name of this node, used in the services and compute_nodes tables and as RPC topic suffix."),
    cfg.IPOpt(
        "my_ip", default=netutils.get_my_ipv4(), sample_default="<host_ipv4>",
        help="This host's address on the management network."),
    cfg.StrOpt(
        "state_path", default="/var/lib/nova",
        help="Top-level directory for nova's state on this host."),
    cfg.StrOpt(
        "instances_path", default="$state_path/instances",
        help="Where the libvirt driver keeps instance disks."),
    cfg.ListOpt(
        "enabled_apis", item_type=types.String(choices=API_NAMES), default=list(API_NAMES),
        help="APIs that nova-api serves: osapi_compute on 8774, metadata on 8775."),
    cfg.HostAddressOpt(
        "osapi_compute_listen", default="0.0.0.0",
        help="IP address on which the OpenStack API will listen."),
    cfg.PortOpt(
        "osapi_compute_listen_port", default=8774,
        help="Port on which the OpenStack API will listen."),
    cfg.HostAddressOpt(
        "metadata_listen", default="0.0.0.0",
        help="IP address on which the metadata API will listen."),
    cfg.PortOpt(
        "metadata_listen_port", default=8775,
        help="Port on which the metadata API will listen."),
    cfg.BoolOpt(
        "use_neutron", default=False,
        help="Accepted, true or false, and ignored: nova_runtime has no Neutron integration, "
             "instances always get their fixed address from nova's own flat network "
             "(fixed_range, flat_network_bridge, ...). The install guide's nova.conf sets "
             "use_neutron = true, and upstream nova ignores the option since nova-network "
             "was removed, so refusing it would only break such a nova.conf. With true, the "
             "conductor logs once that the flat network is used."),
    cfg.StrOpt(
        "firewall_driver", default=NOOP_FIREWALL, choices=[NOOP_FIREWALL],
        help="Only the no-op driver exists: packet filtering belongs to the network service."),
    cfg.StrOpt(
        "compute_driver", default="libvirt.LibvirtDriver", choices=COMPUTE_DRIVERS,
        help="The virt driver nova-compute uses."),
    cfg.IntOpt(
        "report_interval", default=10, min=1,
        help="Seconds between two heartbeats of a service into the services table."),
    cfg.IntOpt(
        "service_down_time", default=60, min=1,
        help="A service whose last heartbeat is older than this many seconds is down."),
    cfg.IntOpt(
        "periodic_interval", default=60, min=1,
        help="Seconds between two runs of a service's periodic tasks (nova-compute: "
             "reporting its hypervisor's resources into compute_nodes)."),
    cfg.FloatOpt(
        "cpu_allocation_ratio", default=16.0, min=0.0,
        help="Virtual CPUs per physical CPU that CoreFilter and Placement allow."),
    cfg.FloatOpt(
        "ram_allocation_ratio", default=1.5, min=0.0,
        help="Virtual RAM per physical RAM that RamFilter and Placement allow."),
    cfg.FloatOpt(
        "disk_allocation_ratio", default=1.0, min=0.0,
        help="Virtual disk per physical disk that DiskFilter and Placement allow."),
    cfg.IntOpt(
        "reserved_host_cpus", default=0, min=0,
        help="Number of host CPUs to reserve for host processes (reported to Placement "
             "as the VCPU inventory's reserved)."),
    cfg.IntOpt(
        "reserved_host_memory_mb", default=512, min=0,
        help="Amount of memory in MB to reserve for the host so that it is always "
             "available to host processes."),
    cfg.IntOpt(
        "reserved_host_disk_mb", default=0, min=0,
        help="Amount of disk resources in MB to make them always available to host."),
    cfg.BoolOpt(
        "allow_resize_to_same_host", default=False,
        help="Let the scheduler keep a resized or migrated server on its own host (the "
             "driver must support it). Off: the source host is never a destination."),
    cfg.IntOpt(
        "resize_confirm_window", default=0, min=0,
        help="Seconds after which nova-compute confirms a resize or migration still "
             "waiting in VERIFY_RESIZE on its own; 0 never does."),
    cfg.IntOpt(
        "instance_build_timeout", default=0, min=0,
        help="Seconds an instance of this compute host may stay in BUILD; then a periodic "
             "task puts it in ERROR with a fault. 0 never does."),
    cfg.IntOpt(
        "reclaim_instance_interval", default=0, min=0,
        help="Seconds a deleted server stays SOFT_DELETED (its guest powered off, its "
             "resources held) so that it can be restored; then its compute deletes it. "
             "0 deletes at once."),
    cfg.IntOpt(
        "shelved_offload_time", default=0, min=-1,
        help="Seconds a shelved server stays on its host (powered off, its resources "
             "held) before its compute offloads it; 0 offloads at once, -1 never (only "
             "shelveOffload does)."),
]


def register_opts(conf):
    conf.register_opts(opts)


def list_opts():
    return [("DEFAULT", opts)]
