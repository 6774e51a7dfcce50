"""Claiming and releasing an instance's resources in Placement.

The instance is Placement's consumer (its uuid). The scheduler claims the
allocation request of the host it chose (PUT /allocations/{instance}); when
Placement answers 409 because the provider has no room left any more, another
scheduler won the race for it and the caller tries its next host. A 409 for
a consumer generation that moved on (the instance got allocations
meanwhile, say from a retried request) is retried with the current
generation, a few times.

A resize or cold migration holds two sets of allocations, as upstream's:
the migration record's uuid is the consumer of the source host's (what the
instance held before), the instance's uuid that of the destination's (what
the scheduler claimed). ``move`` hands every allocation of one consumer to
another in one POST /allocations (consumer generations checked, so that
nothing changes in between): instance -> migration before the scheduler
claims the destination, migration -> instance back when the move fails or
is reverted (which also drops the instance's destination allocations: the
target's allocations are replaced). Confirming deletes the migration's.
On the same host both sets lie on one provider; Placement sums them.

Allocations (for nova-conductor, nova-compute and the compute API) wraps
that for instances: release on reschedule and delete, claim the first
alternate that still has room on reschedule, the moves of a migration.
Without Placement ([placement] has no auth_type) it does nothing: the
compute's own resource claim is then the only check.
"""

import logging
import threading

from nova_runtime.placement import client as placement_client

LOG = logging.getLogger(__name__)

# PUT attempts when the consumer's generation keeps moving.
GENERATION_ATTEMPTS = 4


def _resources(allocations):
    """{provider: {resource class: amount}} of allocations, whatever else they carry."""
    return {provider: dict(entry.get("resources") or {})
            for provider, entry in (allocations or {}).items()}


def _wanted(allocation_request):
    """An allocation request's allocations as PUT and POST /allocations take them."""
    return {provider: {"resources": resources}
            for provider, resources in _resources(allocation_request["allocations"]).items()}


def claim(client, consumer, allocation_request, project_id, user_id):
    """Allocate ``allocation_request`` ({"allocations": {provider: {"resources":
    {...}}}}) to ``consumer``. True once claimed (or already held); False when
    a provider has no room left for it. Raises PlacementUnavailable, or
    PlacementError for a request Placement refuses outright."""
    wanted = _wanted(allocation_request)
    generation = None
    for _ in range(GENERATION_ATTEMPTS):
        try:
            client.put_allocations(consumer, wanted, project_id, user_id, generation)
            return True
        except placement_client.Conflict as exc:
            if exc.code != placement_client.CONCURRENT_UPDATE:
                LOG.info("Claim for %s refused: %s", consumer, exc)
                return False
            current = client.get_allocations(consumer)
            if _resources(current.get("allocations")) == _resources(wanted):
                return True  # the same claim went through before
            generation = current.get("consumer_generation")
    raise placement_client.PlacementError(
        f"Cannot claim resources for {consumer}: its allocations kept changing in Placement")


class ClaimQueue:
    """``claim`` for the claims that one process makes at the same time (the
    scheduler's, in a boot storm): a claim that arrives while another is in
    Placement waits for it, then goes with every claim that queued
    meanwhile, in one POST /allocations. Placement writes a batch in one
    transaction, for about half the CPU per claim of a PUT each (measured:
    4.8 against 8 ms per claim in batches of four). A claim made alone is a
    PUT, as ``claim`` makes it: nothing waits for a batch to fill.

    A batch is all or nothing. When Placement refuses one (a provider has no
    room left for one of its claims, a consumer that holds allocations
    already), or cannot be reached, each of its claims is made alone with
    ``claim``: the answer of each is the one it would have had alone."""

    def __init__(self, max_batch=16):
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._busy = False  # a claim or a batch is in Placement
        self._waiting = []  # _Claim, in the order they came
        self.batches = 0  # batches sent (the tests read it)

    def claim(self, client, consumer, allocation_request, project_id, user_id):
        """``claim``'s answer for this claim."""
        mine = _Claim(client, consumer, allocation_request, project_id, user_id)
        with self._lock:
            if self._busy:
                self._waiting.append(mine)
                batch = None
            else:
                self._busy = True
                batch = [mine]
        if batch is None:
            mine.done.wait()
            batch = mine.batch  # set when this claim's thread sends the next batch
        if batch is not None:
            try:
                self._send(batch)
            finally:
                self._hand_over()
        return mine.answer()

    def _send(self, batch):
        """Settle every claim of ``batch``, whatever happens."""
        try:
            if not self._sent_together(batch):
                for pending in batch:
                    try:
                        pending.settle(claim(pending.client, pending.consumer,
                                             pending.allocation_request, pending.project_id,
                                             pending.user_id))
                    except Exception as exc:  # that claim's own caller gets it
                        pending.settle(error=exc)
        except BaseException as exc:
            for pending in batch:
                if not pending.settled:
                    pending.settle(error=exc)

    def _sent_together(self, batch):
        """Whether the claims of ``batch`` were made in one POST /allocations."""
        if len(batch) < 2 or len({pending.consumer for pending in batch}) < len(batch) or \
                len({id(pending.client) for pending in batch}) > 1:
            return False
        try:
            batch[0].client.post_allocations({
                pending.consumer: {"allocations": _wanted(pending.allocation_request),
                                   "project_id": pending.project_id,
                                   "user_id": pending.user_id, "consumer_generation": None}
                for pending in batch})
        except placement_client.PlacementError as exc:
            LOG.info("Placement refused %d claims sent together (%s); each is made alone",
                     len(batch), exc)
            return False
        self.batches += 1
        for pending in batch:
            pending.settle(True)
        return True

    def _hand_over(self):
        """The claims that queued meanwhile go next, sent by the first one's thread."""
        with self._lock:
            batch = self._waiting[:self.max_batch]
            del self._waiting[:self.max_batch]
            if not batch:
                self._busy = False
                return
        batch[0].batch = batch
        batch[0].done.set()


class _Claim:
    def __init__(self, client, consumer, allocation_request, project_id, user_id):
        self.client, self.consumer, self.allocation_request = client, consumer, allocation_request
        self.project_id, self.user_id = project_id, user_id
        self.done = threading.Event()
        self.batch = None
        self.settled = False
        self.result = self.error = None

    def settle(self, result=None, error=None):
        self.result, self.error, self.settled = result, error, True
        self.done.set()

    def answer(self):
        if self.error is not None:
            raise self.error
        return self.result


def release(client, consumer):
    """Delete every allocation of ``consumer``; False when it had none."""
    return client.delete_allocations(consumer)


def move(client, source, target):
    """Give ``target`` every allocation of ``source`` (replacing what
    ``target`` held), and ``source`` none, atomically. The target's project
    and user become the source's. False when ``source`` has none (nothing
    changes). A consumer that changed between the read and the write (a 409
    for its generation) is read again, a few times; any other refusal raises
    Conflict or PlacementError."""
    for _ in range(GENERATION_ATTEMPTS):
        held = client.get_allocations(source)
        resources = _resources(held.get("allocations"))
        if not resources:
            return False
        target_generation = client.get_allocations(target).get("consumer_generation")
        owner = {"project_id": held["project_id"], "user_id": held["user_id"]}
        try:
            client.post_allocations({
                source: dict(owner, allocations={},
                             consumer_generation=held.get("consumer_generation")),
                target: dict(owner, consumer_generation=target_generation, allocations={
                    provider: {"resources": amounts} for provider, amounts in resources.items()}),
            })
            return True
        except placement_client.Conflict as exc:
            if exc.code != placement_client.CONCURRENT_UPDATE:
                raise
            LOG.debug("Allocations of %s or %s changed meanwhile; reading them again",
                      source, target)
    raise placement_client.PlacementError(
        f"Cannot move the allocations of {source} to {target}: they kept changing in Placement")


class Allocations:
    """An instance's allocations as nova-conductor and nova-compute handle
    them. Placement failures are logged as errors, never raised: the
    instance's state is what the caller decides."""

    def __init__(self, client):
        self.client = client

    @classmethod
    def from_conf(cls, conf):
        return cls(placement_client.from_conf(conf))

    def release(self, instance_uuid, what="instance"):
        """Give back what the instance (or, with ``what`` "migration", the
        migration) holds (no-op without Placement)."""
        if self.client is None:
            return
        try:
            if release(self.client, instance_uuid):
                LOG.info("Released the Placement allocations of %s %s", what, instance_uuid)
        except placement_client.PlacementError as exc:
            LOG.error("Cannot release the Placement allocations of %s %s: %s",
                      what, instance_uuid, exc)

    def hold_for_migration(self, instance_uuid, migration_uuid):
        """Before the scheduler claims a destination for the instance: its
        source allocations become the migration's. True when moved; False
        without Placement or when the instance held none (it was placed
        without Placement: the destination's claim is then its only one).
        Raises PlacementError: a move must not start without it, or the
        destination's claim would replace the source's."""
        if self.client is None:
            return False
        if move(self.client, instance_uuid, migration_uuid):
            LOG.info("Migration %s holds the source allocations of instance %s",
                     migration_uuid, instance_uuid)
            return True
        LOG.info("Instance %s has no allocations in Placement to hand to migration %s",
                 instance_uuid, migration_uuid)
        return False

    def revert_migration(self, instance_uuid, migration_uuid):
        """The move failed or is reverted: the instance holds its source
        allocations again (those of the migration), and no longer what was
        claimed on the destination. When the migration holds none (the
        instance had none before the move, or this ran already) nothing
        changes, as upstream: a second run must not drop the source's."""
        if self.client is None:
            return
        try:
            if move(self.client, migration_uuid, instance_uuid):
                LOG.info("Instance %s holds its source allocations again (from migration %s)",
                         instance_uuid, migration_uuid)
        except placement_client.PlacementError as exc:
            LOG.error("Cannot give the allocations of migration %s back to instance %s in "
                      "Placement: %s", migration_uuid, instance_uuid, exc)

    def claim_alternate(self, instance_uuid, request_spec, alternates):
        """The first of ``alternates`` (selection dicts) whose allocation
        request can be claimed for the instance: (selection, the alternates
        after it), or None when none can. Without Placement, or for a
        selection made without it, the first alternate."""
        for index, selection in enumerate(alternates):
            allocation_request = selection.get("allocation_request")
            if self.client is None or not allocation_request:
                return selection, alternates[index + 1:]
            try:
                claimed = claim(self.client, instance_uuid, allocation_request,
                                request_spec.get("project_id"), request_spec.get("user_id"))
            except placement_client.PlacementError as exc:
                LOG.error("Cannot claim resources on %s for instance %s in Placement: %s",
                          selection["host"], instance_uuid, exc)
                return None
            if claimed:
                return selection, alternates[index + 1:]
            LOG.info("Alternate host %s has no room left in Placement for instance %s",
                     selection["host"], instance_uuid)
        return None
