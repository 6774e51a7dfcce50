"""Identical calls in flight at the same time share one answer.

nova-scheduler asks Placement for allocation candidates before every
decision; in a boot storm many decisions for the same flavor run at once,
and each GET /allocation_candidates costs Placement far more than anything
else it does for a build. A request that arrives while the same query is
already being answered waits for that answer instead of sending its own: the
answer is no older than one the request would have got itself a moment
later. Candidates only narrow the hosts; the claim (PUT /allocations) is
what Placement checks, so a host that filled up meanwhile refuses it and the
next alternate is tried, as with any answer.

Nothing is kept once the call returns: a call that starts after the answer
came asks again.
"""

import threading


class _Flight:
    def __init__(self):
        self.done = threading.Event()
        self.result = None
        self.error = None


class Coalescer:
    def __init__(self):
        self._lock = threading.Lock()
        self._flights = {}  # key -> _Flight in progress
        self.shared = 0  # calls answered by another's flight (the tests read it)

    def call(self, key, function):
        """``function()``, or the answer of the call with the same ``key``
        that is in flight now (its exception, if it raised one)."""
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
            else:
                self.shared += 1
        if leader:
            try:
                flight.result = function()
            except Exception as exc:
                flight.error = exc
            finally:
                with self._lock:
                    del self._flights[key]
                flight.done.set()
        else:
            flight.done.wait()
        if flight.error is not None:
            raise flight.error
        return flight.result
