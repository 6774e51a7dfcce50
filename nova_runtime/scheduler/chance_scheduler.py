"""The chance scheduler: any host whose compute service is enabled and up.

As upstream's ChanceScheduler: no filters beyond that, Placement's candidates
and ignore_hosts, no weighing, and no consumption of the host states (the
scheduler manager still claims in Placement). Distinct hosts are picked for
the instances of a request while there are enough.
"""

import random

import numpy as np

from nova_runtime.scheduler.errors import NoValidHost
from nova_runtime.scheduler.request import Selection


class ChanceScheduler:
    def __init__(self, conf, rng=None):
        self.service_down_time = conf.service_down_time
        self.max_attempts = conf.scheduler.max_attempts
        self._random = rng or random.Random()

    def select_destinations(self, hosts, spec, return_alternates=False, now=None):
        num_instances = max(spec.num_instances, len(spec.instance_uuids))
        with hosts.lock:
            up = ~hosts.disabled & hosts.service_up(self.service_down_time, now)
            if not up.any():
                raise NoValidHost("Is the appropriate service running?")
            if spec.candidate_nodes is not None:
                up &= hosts.rows_of_uuids(spec.candidate_nodes)
            if spec.ignore_hosts:
                up &= ~hosts.rows_of_hosts(spec.ignore_hosts)
            rows = np.flatnonzero(up).tolist()
            if not rows:
                raise NoValidHost("Could not find another compute")
            if len(rows) >= num_instances:
                chosen = self._random.sample(rows, num_instances)
            else:
                chosen = [self._random.choice(rows) for _ in range(num_instances)]
            taken = set(chosen)
            others = [r for r in rows if r not in taken]
            result = []
            for i in chosen:
                selections = [_selection(hosts, i)]
                if return_alternates and self.max_attempts > 1:
                    count = min(len(others), self.max_attempts - 1)
                    selections += [_selection(hosts, r) for r in self._random.sample(others, count)]
                result.append(selections)
            return result


def _selection(hosts, i):
    return Selection(host=hosts.hosts[i], nodename=hosts.nodes[i],
                     compute_node_uuid=hosts.uuids[i], cell_uuid=hosts.cell_uuids[i],
                     limits={}, weight=0.0)
