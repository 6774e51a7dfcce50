"""What the conductor and the compute ask of the flat network.

- ``allocate_for_instance``: the super-conductor, right after it created the
  instance in its cell (conductor/build.py), gives it one fixed address and a
  virtual interface. The first call in a process makes or updates the cell's
  networks row from nova.conf.
- ``get_network_info``: the interfaces that the virt driver plugs, as a list
  of dicts (objects.fixed_ips.network_info): {"address": MAC, "fixed_ip",
  "bridge", "cidr", "gateway", "dns": [...]} plus "id", "label" and
  "network_id". A compute never reads the database: it gets this through
  its cell conductor.
- Releasing is part of deleting the instance record (objects.instances.destroy),
  so that no path that deletes an instance can leak its address.

``[DEFAULT] use_neutron`` is accepted and ignored (see conf/default.py): with
true, the first allocation logs that the flat network is used.
"""

import logging
import threading

from nova_runtime.network import flat
from nova_runtime.objects import fixed_ips

LOG = logging.getLogger(__name__)

_lock = threading.Lock()
_synced = {}  # (cell database URL, FlatNetwork) -> its networks row
_told_about_neutron = False


def network_row(conf, url):
    """The cell's networks row (a dict), made or brought in step with
    nova.conf once per process and cell."""
    network = flat.from_conf(conf)
    key = (url, network)
    with _lock:
        if key not in _synced:
            _warn_about_neutron(conf)
            row = fixed_ips.sync_network(url, network)
            LOG.info("Flat network %s: %s, gateway %s, addresses from %s, bridge %s",
                     row["label"], row["cidr"], row["gateway"], row["dhcp_start"], row["bridge"])
            _synced[key] = row
        return _synced[key]


def allocate_for_instance(conf, url, instance_uuid, host=None):
    """Give the instance in the cell database at ``url`` its fixed address;
    returns its network info. Raises network.exceptions.NoMoreFixedIps (the
    build fails with that message) or NetworkConfigError."""
    info = fixed_ips.allocate(url, network_row(conf, url), instance_uuid, host=host)
    LOG.info("Instance %s has fixed address %s (MAC %s)", instance_uuid,
             ", ".join(vif["fixed_ip"] for vif in info), ", ".join(vif["address"] for vif in info))
    return info


def get_network_info(url, instance_uuid, db=None):
    """The instance's interfaces for the virt driver ([] if it has none);
    ``db``: read in that session."""
    return fixed_ips.network_info(url, instance_uuid, db=db)


def _warn_about_neutron(conf):
    global _told_about_neutron
    if conf.use_neutron and not _told_about_neutron:
        LOG.warning("[DEFAULT] use_neutron = true is ignored: nova_runtime has no Neutron "
                    "integration; instances get their addresses from the flat network "
                    "[DEFAULT] fixed_range = %s", conf.fixed_range)
        _told_about_neutron = True
