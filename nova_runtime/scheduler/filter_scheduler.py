"""The filter scheduler: filter the host states, weigh the survivors, pick.

For each instance of a request: every enabled filter returns a mask over all
rows and the masks are and-ed; the surviving rows are weighed (each weigher's
weights normalised to [0, 1], times its multiplier, summed); the best row, or
one at random among the ``host_subset_size`` best, is chosen and consumed, so
that the next instance of the request, and the next request, see it fuller.

As upstream: the next instance of a request is chosen among the hosts that
passed for the previous one, and filters whose answer cannot change within a
request (run_filter_once_per_request) run for the first instance only; forced
hosts and nodes skip the filters; ties in weight go to the earlier row.
"""

import dataclasses
import logging
import random

import numpy as np

from nova_runtime.scheduler import loader
from nova_runtime.scheduler.errors import NoValidHost
from nova_runtime.scheduler.request import Selection
from nova_runtime.scheduler.weighers import normalize

LOG = logging.getLogger(__name__)

SHOWN_HOSTS = 5  # how many removed hosts a filter result names


@dataclasses.dataclass(frozen=True)
class FilterResult:
    """What one filter did to the hosts it was given."""

    name: str
    start: int
    end: int
    removed: tuple[str, ...]  # the first few removed hosts

    def __str__(self):
        text = f"{self.name}: {self.start} -> {self.end} host(s)"
        if self.start > self.end:
            more = self.start - self.end - len(self.removed)
            text += ", removed " + ", ".join(self.removed) + (f" and {more} more" if more else "")
        return text


class FilterScheduler:
    def __init__(self, conf, rng=None):
        self.filters = loader.load_filters(conf)
        self.weighers = loader.load_weighers(conf)
        self.host_subset_size = conf.filter_scheduler.host_subset_size
        self.max_attempts = conf.scheduler.max_attempts
        self._random = rng or random.Random()

    def select_destinations(self, hosts, spec, return_alternates=False, now=None):
        """Choose a host for each of the request's instances and consume it in
        ``hosts``. Returns one list per instance: its Selection, then (with
        return_alternates) up to [scheduler] max_attempts - 1 alternates of the
        same cell. Raises NoValidHost, leaving ``hosts`` unchanged."""
        num_instances = max(spec.num_instances, len(spec.instance_uuids))
        with hosts.lock:
            start, forced = self._preselect(hosts, spec)
            candidates = start
            chosen, order = [], None
            try:
                for index in range(num_instances):
                    mask = candidates if forced else self._filter(hosts, spec, candidates, index)
                    rows = np.flatnonzero(mask)
                    if rows.size == 0:
                        raise self._no_valid_host(hosts, spec, start, candidates, forced, index,
                                                  num_instances)
                    weights = self._weigh(hosts, spec, rows)
                    pick, order = self._pick(rows, weights, sort=return_alternates)
                    hosts.consume(rows[pick], spec, now)
                    chosen.append((int(rows[pick]), float(weights[pick])))
                    candidates = mask
            except NoValidHost:
                for i, _ in chosen:
                    hosts.release(i, spec)
                raise
            if not return_alternates or self.max_attempts < 2:
                return [[self._selection(hosts, i, w, forced)] for i, w in chosen]
            if num_instances > 1:
                # The chosen hosts were consumed: filter and weigh once more.
                mask = candidates
                if not forced:
                    mask = self._filter(hosts, spec, candidates, num_instances)
                rows = np.flatnonzero(mask)
                weights = self._weigh(hosts, spec, rows)
                ranked = np.argsort(-weights, kind="stable")
                order = (rows[ranked], weights[ranked])
            return self._with_alternates(hosts, chosen, order, forced)

    # --- the steps -----------------------------------------------------------

    def _preselect(self, hosts, spec):
        """Placement's candidates, then ignore_hosts, force_hosts and
        force_nodes, as upstream applies them before the filters. Returns
        (mask, forced)."""
        mask = _offered(hosts, spec)
        if spec.ignore_hosts:
            mask &= ~hosts.rows_of_hosts(spec.ignore_hosts)
        if spec.force_hosts:
            mask &= hosts.rows_of_hosts(spec.force_hosts)
        if spec.force_nodes:
            mask &= hosts.rows_of_nodes(spec.force_nodes)
        return mask, bool(spec.force_hosts or spec.force_nodes)

    def _filter(self, hosts, spec, candidates, index):
        mask = candidates.copy()
        for f in self.filters:
            if index == 0 or not f.run_filter_once_per_request:
                mask &= f.filter_all(hosts, spec)
        return mask

    def _weigh(self, hosts, spec, rows):
        total = np.zeros(rows.size, dtype=np.float64)
        for w in self.weighers:
            if w.multiplier:
                raw = w.weigh_all(hosts, spec, rows)
                total += w.multiplier * normalize(raw, w.minval, w.maxval)
        return total

    def _pick(self, rows, weights, sort=False):
        """The index in ``rows`` of the chosen host, and (when sort or a subset
        is drawn) the rows sorted best first with their weights."""
        if self.host_subset_size == 1 and not sort:
            return int(np.argmax(weights)), None
        ranked = np.argsort(-weights, kind="stable")
        pick = int(self._random.choice(ranked[:self.host_subset_size]))
        return pick, (rows[ranked], weights[ranked])

    def _selection(self, hosts, i, weight, forced):
        limits = {}
        if not forced:
            for f in self.filters:
                limits.update(f.limits(hosts, i))
        return Selection(host=hosts.hosts[i], nodename=hosts.nodes[i],
                         compute_node_uuid=hosts.uuids[i], cell_uuid=hosts.cell_uuids[i],
                         limits=limits, weight=weight)

    def _with_alternates(self, hosts, chosen, order, forced):
        ranked_rows, ranked_weights = order
        taken = {i for i, _ in chosen}
        result = []
        for i, weight in chosen:
            selections = [self._selection(hosts, i, weight, forced)]
            for row, alt_weight in zip(ranked_rows.tolist(), ranked_weights.tolist()):
                if len(selections) >= self.max_attempts:
                    break
                if row not in taken and hosts.cell_code[row] == hosts.cell_code[i]:
                    selections.append(self._selection(hosts, row, alt_weight, forced))
            result.append(selections)
        return result

    # --- when nothing fits ---------------------------------------------------

    def _no_valid_host(self, hosts, spec, start, candidates, forced, index, num_instances):
        results = self.explain(hosts, spec, start, candidates, forced, index)
        if num_instances > 1 and index > 0:
            reason = (f"There are not enough hosts available: {index} of {num_instances} "
                      "instances found a host")
        else:
            reason = "No valid host was found"
        LOG.info("%s; filter results:\n  %s", reason, "\n  ".join(map(str, results)))
        return NoValidHost(reason, results)

    def explain(self, hosts, spec, start, candidates, forced, index=0):
        """The filter results that led to no host: the pre-selection, then each
        filter up to the one that removed the last host."""
        results = []
        offered = _offered(hosts, spec)
        if index == 0 and spec.candidate_nodes is not None:
            results.append(self._result(hosts, "Placement", np.ones(len(hosts), dtype=bool),
                                        offered))
        if index == 0 and (spec.ignore_hosts or forced):
            results.append(self._result(hosts, "ignore/force hosts", offered, start))
        remaining = candidates.copy()
        if forced or not remaining.any():
            return results
        for f in self.filters:
            if index > 0 and f.run_filter_once_per_request:
                continue
            before = remaining.copy()
            remaining &= f.filter_all(hosts, spec)
            results.append(self._result(hosts, f.name, before, remaining))
            if not remaining.any():
                break
        return results

    @staticmethod
    def _result(hosts, name, before, after):
        removed = np.flatnonzero(before & ~after)[:SHOWN_HOSTS]
        return FilterResult(name, int(before.sum()), int(after.sum()),
                            tuple(hosts.label(i) for i in removed.tolist()))


def _offered(hosts, spec):
    """The rows Placement offered (every row without Placement)."""
    if spec.candidate_nodes is None:
        return np.ones(len(hosts), dtype=bool)
    return hosts.rows_of_uuids(spec.candidate_nodes)
