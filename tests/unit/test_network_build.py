"""The flat network on the build path: the super-conductor gives each instance
a fixed address, a build fails with a clear fault when none is left, and a
deleted server gives its address back (test_conductor_build's one-process cloud)."""

import nova_runtime  # noqa: F401  first: it selects oslo.service's threading backend

import pytest

from nova_runtime.network import api as network_api
from nova_runtime.objects import instance_actions
from tests.unit.test_conductor_build import Cloud, context, settled
from tests.unit.test_conductor_build import quick_rpc_server_stop  # noqa: F401 (fixture)


class OneAddressCloud(Cloud):
    """Every service's nova.conf has a flat network with one address: 10.99.0.2."""

    def conf(self, host, **overrides):
        overrides.setdefault("fixed_range", "10.99.0.0/30")
        overrides.setdefault("flat_network_bridge", "br-test")
        return super().conf(host, **overrides)


@pytest.fixture
def cloud(tmp_path):
    started = OneAddressCloud(tmp_path, {"c1": (4096, "fake.FakeDriver")})
    yield started
    started.stop()
    network_api._synced.clear()


def test_addresses_on_build_exhaustion_and_delete(cloud):
    url = cloud.urls["cell1"]
    [first] = cloud.boot(name="first")
    assert cloud.wait_for(first, settled)["vm_state"] == "active"
    [vif] = network_api.get_network_info(url, first)
    assert (vif["fixed_ip"], vif["bridge"], vif["cidr"], vif["gateway"]) == (
        "10.99.0.2", "br-test", "10.99.0.0/30", "10.99.0.1")

    [second] = cloud.boot(name="second")
    failed = cloud.wait_for(second, settled)
    assert (failed["vm_state"], failed["host"]) == ("error", None)  # never sent to c1
    [fault] = instance_actions.faults_for(url, second)
    assert fault["message"].startswith(
        "Build failed: No fixed IP addresses available in network private (10.99.0.0/30)")
    assert network_api.get_network_info(url, second) == []

    cloud.api.delete(context(), first)
    cloud.wait_for(first, lambda instance: instance is None)
    assert network_api.get_network_info(url, first) == []
    [third] = cloud.boot(name="third")
    assert cloud.wait_for(third, settled)["vm_state"] == "active"
    assert network_api.get_network_info(url, third)[0]["fixed_ip"] == "10.99.0.2"
