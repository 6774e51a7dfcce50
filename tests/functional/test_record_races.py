"""The records' compare-and-swaps on MariaDB (REPEATABLE READ, as deployed):
many requests racing to set one instance's task state, or one migration's
status, from the same expected value: exactly one wins. A plain read would
give each transaction its snapshot, where every one of them sees the old
value and "wins" (the pattern that let Placement overcommit)."""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import threading
import uuid

import pytest

from nova_runtime.db import migration
from nova_runtime.objects import exceptions, instances, migrations

pytestmark = pytest.mark.mysql

RACERS = 12


def race(function):
    """Run ``function(index)`` in RACERS threads released at once; the
    indexes that returned (the others raised UnexpectedTaskState)."""
    barrier, won, lost = threading.Barrier(RACERS), [], []

    def run(index):
        barrier.wait()
        try:
            function(index)
            won.append(index)
        except exceptions.UnexpectedTaskState:
            lost.append(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(won) + len(lost) == RACERS
    return won


def test_one_request_wins_each_compare_and_swap(nova_databases):
    url = nova_databases["main"]
    migration.sync("main", url)
    server = str(uuid.uuid4())
    instances.create(url, {"uuid": server, "project_id": "p1", "user_id": "u1",
                           "vm_state": "active", "task_state": None, "host": "c1"})
    for attempt in range(3):
        instances.update(url, server, {"task_state": None})
        won = race(lambda i: instances.update(url, server, {"task_state": f"racer-{i}"},
                                              expected_task_states=[None]))
        assert len(won) == 1, (attempt, won)
        assert instances.get_by_uuid(url, server)["task_state"] == f"racer-{won[0]}"

    record = migrations.create(url, {"instance_uuid": server, "status": "finished",
                                     "source_compute": "c1", "dest_compute": "c2"})
    won = race(lambda i: migrations.update(url, record["id"], {"status": f"racer-{i}"},
                                           expected_statuses=["finished"]))
    assert len(won) == 1
    assert migrations.get(url, record["id"])["status"] == f"racer-{won[0]}"
