"""Which instance is asking: found by its fixed address or by a metadata
proxy's signed headers, then read from its cell.

- By address: the request's source address (or with [api] use_forwarded_for,
  the first address of X-Forwarded-For) is a fixed address of the flat network
  in one of the cells that the API database maps (cell0 holds no running
  instance and is skipped).
- By instance id (``[neutron] service_metadata_proxy``): the proxy sends
  X-Instance-ID, X-Tenant-ID and X-Instance-ID-Signature, the hex HMAC-SHA256
  of the instance id keyed with ``[neutron] metadata_proxy_shared_secret``; the
  instance mapping names its cell.

What was read is kept for [api] metadata_cache_expiration seconds: a booting
guest asks for a dozen paths in a row.
"""

import logging
import threading
import time


from nova_runtime.cells import CELL0_UUID
from nova_runtime.metadata import vendordata
from nova_runtime.metadata.content import InstanceData, keypairs_of
from nova_runtime.objects import keypairs
from nova_runtime.objects import exceptions, fixed_ips, instance_mappings, instances
from nova_runtime import cells

LOG = logging.getLogger(__name__)

class Finder:
    def __init__(self, conf, dbs):
        self.conf = conf
        self.dbs = dbs
        self._cache = {}  # ("uuid", instance uuid) -> (expires at, InstanceData)
        self._lock = threading.Lock()

    def by_address(self, address):
        """The InstanceData of the instance holding fixed ``address``, or None.
        Who holds the address is read every time (one indexed query per cell):
        a released address goes to the next instance at once, and a cache by
        address would give it the deleted instance's metadata and keys."""
        found = self._holder_of(address)
        if found is None:
            return None
        url, instance_uuid = found
        return self._cached(("uuid", instance_uuid), lambda: self._load(url, instance_uuid))

    def by_instance_id(self, instance_uuid):
        """The InstanceData of the live instance ``instance_uuid``, or None."""
        return self._cached(("uuid", instance_uuid), lambda: self._find_by_uuid(instance_uuid))

    def _cached(self, key, read):
        ttl = self.conf.api.metadata_cache_expiration
        now = time.monotonic()
        if ttl:
            with self._lock:
                hit = self._cache.get(key)
                if hit and hit[0] > now:
                    return hit[1]
        data = read()
        if ttl and data is not None:
            with self._lock:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                self._cache[key] = (now + ttl, data)
        return data

    def _holder_of(self, address):
        """(cell database URL, instance uuid) of the instance holding ``address``."""
        for cell in self.dbs.cells(include_cell0=False):
            try:
                instance_uuid = fixed_ips.instance_uuid_by_address(cell.database_connection,
                                                                   address)
                if instance_uuid:
                    return cell.database_connection, instance_uuid
            except cells.DOWN_ERRORS as exc:
                LOG.warning("Cell %s (%s) did not answer while looking for address %s: %s",
                            cell.name, cell.uuid, address, exc)
        return None

    def _find_by_uuid(self, instance_uuid):
        try:
            mapping = instance_mappings.get(self.dbs.api_url, instance_uuid)
        except exceptions.InstanceMappingNotFound:
            return None
        cell = mapping["cell"]
        if cell is None or cell.uuid == CELL0_UUID:
            return None  # still being scheduled, or never reached a cell
        return self._load(cell.database_connection, instance_uuid)

    def _load(self, url, instance_uuid):
        try:
            instance = instances.get_by_uuid(url, instance_uuid)
            metadata = instances.get_metadata(url, instance_uuid)
        except exceptions.InstanceNotFound:
            return None  # deleted meanwhile
        try:
            flavor = instances.get_flavor(url, instance_uuid)
        except exceptions.InstanceNotFound:
            flavor = None
        return InstanceData(
            instance=instance, metadata=metadata, flavor=flavor,
            network_info=fixed_ips.network_info(url, instance_uuid),
            keypairs=keypairs_of(instance, self._keypair(instance)),
            vendor_data=vendordata.load(self.conf))

    def _keypair(self, instance):
        if not (instance.get("key_name") and instance.get("user_id")):
            return None
        try:
            return keypairs.get(self.dbs.api_url, instance["user_id"], instance["key_name"])
        except exceptions.NotFound:
            return None  # deleted since: the instance keeps the key it was created with
