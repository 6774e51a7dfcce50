"""Identical calls in flight at the same time share one answer; with a
``max_age``, a later call may reuse a recent answer.

nova-scheduler asks Placement for allocation candidates before every
decision; in a boot storm many decisions for the same flavor run at once,
and each GET /allocation_candidates costs Placement far more than anything
else it does for a build (Placement builds every candidate before it applies
``limit``: with 10,000 compute nodes, about a second). A request that arrives
while the same query is already being answered waits for that answer instead
of sending its own: the answer is no older than one the request would have
got itself a moment later. Candidates only narrow the hosts; the claim (PUT
/allocations) is what Placement checks, so a host that filled up meanwhile
refuses it and the next alternate is tried, as with any answer.

With ``max_age`` 0 nothing is kept once the call returns: a call that
starts after the answer came asks again. With ``max_age`` seconds, a call
that starts within that time of the arrival of the last answer for its key
gets that answer (``reused`` counts them); ``forget`` drops an answer that
proved stale, and a caller that must not act on a kept answer asks with
``fresh``. Errors are never kept.
"""

import threading
import time

_KEPT = 64  # answers kept at most (one per distinct key: a flavor's resources and traits)


class _Flight:
    def __init__(self):
        self.done = threading.Event()
        self.result = None
        self.error = None


class Coalescer:
    def __init__(self, max_age=0, clock=time.monotonic):
        self.max_age, self._clock = max_age, clock
        self._lock = threading.Lock()
        self._flights = {}  # key -> _Flight in progress
        self._answers = {}  # key -> (clock when the answer arrived, result); with max_age
        self.shared = 0  # calls answered by another's flight (the tests read it)
        self.reused = 0  # calls answered by a kept answer

    def call(self, key, function):
        return self.answer(key, function)[0]

    def answer(self, key, function, fresh=False):
        """(result, kept): ``function()``, or the answer of the call with the
        same ``key`` that is in flight now (its exception, if it raised one),
        or, unless ``fresh``, one that arrived less than ``max_age`` seconds
        ago (``kept`` True). An answer is dated from its arrival: at 10,000
        providers Placement takes longer than a short ``max_age``."""
        with self._lock:
            kept = None if fresh else self._answers.get(key)
            if kept is not None and self._clock() - kept[0] < self.max_age:
                self.reused += 1
                return kept[1], True
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
                    if self.max_age > 0 and flight.error is None:
                        self._answers.pop(key, None)
                        if len(self._answers) >= _KEPT:
                            del self._answers[next(iter(self._answers))]
                        self._answers[key] = (self._clock(), flight.result)
                flight.done.set()
        else:
            flight.done.wait()
        if flight.error is not None:
            raise flight.error
        return flight.result, False

    def forget(self, key=None):
        """Drop the kept answer of ``key`` (None: every kept answer): the
        next call asks again."""
        with self._lock:
            if key is None:
                self._answers.clear()
            else:
                self._answers.pop(key, None)
