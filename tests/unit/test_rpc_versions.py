"""Each RPC server speaks the version its client sends, and the newest
service version names them: a client bumped without its server (or the
reverse) would have every new call refused with UnsupportedVersion."""

import pytest

from nova_runtime import service
from nova_runtime.compute import manager as compute_manager, rpcapi as compute_rpcapi
from nova_runtime.conductor import manager as conductor_manager, rpcapi as conductor_rpcapi
from nova_runtime.scheduler import manager as scheduler_manager, rpcapi as scheduler_rpcapi

PAIRS = [
    ("compute", compute_manager.ComputeManager, compute_rpcapi.ComputeAPI),
    ("conductor", conductor_manager.ConductorManager, conductor_rpcapi.ConductorAPI),
    ("scheduler", scheduler_manager.SchedulerManager, scheduler_rpcapi.SchedulerAPI),
]


@pytest.mark.parametrize("topic,manager,client", PAIRS, ids=[p[0] for p in PAIRS])
def test_server_and_client_speak_one_version(topic, manager, client):
    assert manager.target.version == client.VERSION
    newest = service.SERVICE_VERSION_HISTORY[service.SERVICE_VERSION]
    assert newest[topic] == client.VERSION
