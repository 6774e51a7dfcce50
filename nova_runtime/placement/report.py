"""A compute node's resource provider, kept current by nova-compute.

``ProviderReport.update(node_uuid, name, inventories, traits)`` makes
Placement hold what the resource tracker computed: the provider exists (it is
created, or renamed when the hypervisor hostname changed), its inventories
are these, and its managed traits are these (an operator's other traits
stay). What was last written, and the provider's generation, are cached: a
periodic run that changes nothing sends nothing. The cache is read again from
Placement after REREAD_SECONDS, or at once after any failure, so that a
change made behind our back (an inventory edited with osc-placement, a
provider deleted) is repaired.

A write answered by a generation conflict (someone else changed the provider
since it was read) re-reads the provider and tries again, a few times.
"""

import dataclasses
import logging
import time

from nova_runtime.placement import client as placement_client
from nova_runtime.placement import resources

LOG = logging.getLogger(__name__)

REREAD_SECONDS = 300
CONFLICT_ATTEMPTS = 4


@dataclasses.dataclass
class _Provider:
    name: str
    generation: int
    inventories: dict
    traits: set
    read_at: float


class ProviderReport:
    def __init__(self, client, clock=time.monotonic):
        self.client = client
        self._clock = clock
        self._providers = {}  # node uuid -> _Provider, as Placement last had it

    def forget(self, node_uuid):
        self._providers.pop(node_uuid, None)

    def update(self, node_uuid, name, inventories, traits):
        """Bring the provider of ``node_uuid`` in line. Returns the names of
        what was written ("provider", "inventories", "traits"). Raises
        PlacementError (PlacementUnavailable when it did not answer); the
        cache is then dropped so that the next run starts from Placement."""
        try:
            return self._update(node_uuid, name, inventories, traits)
        except placement_client.PlacementError:
            self.forget(node_uuid)
            raise

    def _update(self, node_uuid, name, inventories, traits):
        written = []
        for attempt in range(CONFLICT_ATTEMPTS):
            provider = self._provider(node_uuid, name, written)
            try:
                if provider.name != name:
                    body = self.client.rename_provider(node_uuid, name)
                    provider.name, provider.generation = name, body["generation"]
                    written.append("provider")
                if provider.inventories != inventories:
                    provider.generation = self.client.set_inventories(
                        node_uuid, provider.generation, inventories)
                    provider.inventories = dict(inventories)
                    written.append("inventories")
                merged = resources.merged_traits(provider.traits, traits)
                if provider.traits != merged:
                    provider.generation = self.client.set_traits(
                        node_uuid, provider.generation, merged)
                    provider.traits = merged
                    written.append("traits")
                return written
            except placement_client.Conflict as exc:
                if exc.code != placement_client.CONCURRENT_UPDATE \
                        or attempt == CONFLICT_ATTEMPTS - 1:
                    raise
                LOG.debug("Provider %s changed meanwhile; reading it again", node_uuid)
                self.forget(node_uuid)
        raise AssertionError("unreachable")

    def _provider(self, node_uuid, name, written):
        """The cached provider, or Placement's (created if it has none)."""
        cached = self._providers.get(node_uuid)
        if cached is not None and self._clock() - cached.read_at < REREAD_SECONDS:
            return cached
        found = self.client.get_provider(node_uuid)
        if found is None:
            try:
                found = self.client.create_provider(node_uuid, name)
            except placement_client.Conflict:
                found = self.client.get_provider(node_uuid)  # created meanwhile?
                if found is None:
                    raise placement_client.PlacementError(
                        f"Cannot create resource provider {node_uuid}: Placement already "
                        f"has another provider named {name!r} (a compute node that was "
                        "deleted and came back with a new uuid?); delete the old one with "
                        "'openstack resource provider delete'") from None
            else:
                LOG.info("Created resource provider %s (%s) in Placement", name, node_uuid)
                written.append("provider")
        inventories = self.client.get_inventories(node_uuid)
        traits = self.client.get_traits(node_uuid)
        if inventories is None or traits is None:
            raise placement_client.PlacementError(
                f"Resource provider {node_uuid} disappeared while it was read")
        # The later read has the later generation; the writes check it.
        provider = _Provider(name=found["name"], generation=traits[0],
                             inventories=inventories[1], traits=traits[1],
                             read_at=self._clock())
        self._providers[node_uuid] = provider
        return provider
