"""GET /servers/{id}/diagnostics through the whole in-process stack: the API,
nova-compute c1 with the fake driver and nova-conductor on a fake://
transport (tests/unit/test_console.py's cloud): the driver's answer, asked
over RPC, in each microversion's form."""

import uuid

from nova_runtime.virt import driver as virt_driver
from tests.unit.test_console import cloud, db_url  # noqa: F401  (fixtures)
from tests.unit.test_service import quick_rpc_server_stop  # noqa: F401

ADMIN = {"user": "admin", "project": "admin"}


def diagnostics(cloud, server_uuid, version=None, **who):
    return cloud.client("GET", f"/v2.1/servers/{server_uuid}/diagnostics",
                        version=version, **(who or ADMIN))


def test_the_drivers_counters_before_2_48(cloud):
    server = cloud.server()
    response = diagnostics(cloud, server["uuid"], "2.47")
    assert response.status_int == 200, response.data
    assert response.data == cloud.compute.manager.driver.get_diagnostics(server)
    assert response.data["memory"] == server["memory_mb"] * 1024


def test_the_standard_form_from_2_48(cloud):
    server = cloud.server()
    response = diagnostics(cloud, server["uuid"], "2.48")
    assert response.status_int == 200, response.data
    body = response.data
    assert body == cloud.compute.manager.driver.get_instance_diagnostics(server)
    assert (body["state"], body["driver"]) == ("running", "libvirt")
    assert body["memory_details"]["maximum"] == server["memory_mb"]
    assert body["num_cpus"] == len(body["cpu_details"])


def test_refusals(cloud):
    server = cloud.server()
    # Admin only, even for the server's own project.
    member = diagnostics(cloud, server["uuid"], user="alice", project=server["project_id"])
    assert member.status_int == 403
    assert diagnostics(cloud, str(uuid.uuid4())).status_int == 404
    lost = cloud.server(spawned=False)  # the hypervisor does not have it
    assert diagnostics(cloud, lost["uuid"]).status_int == 404
    homeless = cloud.server(host=None, spawned=False)
    assert diagnostics(cloud, homeless["uuid"]).status_int == 409


def test_a_driver_without_diagnostics_is_501(cloud, monkeypatch):
    server = cloud.server()
    driver = cloud.compute.manager.driver
    for name in ("get_diagnostics", "get_instance_diagnostics"):
        monkeypatch.setattr(driver, name, getattr(virt_driver.ComputeDriver, name).__get__(driver))
    for version in ("2.1", "2.48"):
        assert diagnostics(cloud, server["uuid"], version).status_int == 501
