"""Diagnostics, part of the driver contract: every driver answers both forms
for a spawned instance, the standard one with the keys and types that the
Compute API's 2.48 schema requires."""

import pytest

from nova_runtime.virt import diagnostics, exceptions
# The contract's fixtures: every driver of DRIVERS, a spawned instance.
from tests.virt.test_driver_contract import (  # noqa: F401
    CONTEXT, case, driver, hosts, new_instance, running)


def test_standard_diagnostics(driver, running):
    body = driver.get_instance_diagnostics(running)
    assert set(body) == {"state", "driver", "hypervisor", "hypervisor_os", "uptime",
                         "config_drive", "num_cpus", "num_nics", "num_disks",
                         "memory_details", "cpu_details", "nic_details", "disk_details"}
    assert body["state"] == "running" and body["driver"] in diagnostics.DRIVERS
    assert body["memory_details"]["maximum"] == running["memory_mb"]
    assert body["num_cpus"] == len(body["cpu_details"]) == running["vcpus"]
    assert body["num_disks"] == len(body["disk_details"]) >= 1
    for disk in body["disk_details"]:
        assert set(disk) == set(diagnostics.DISK_FIELDS)
    assert isinstance(body["config_drive"], bool)


def test_legacy_diagnostics(driver, running):
    counters = driver.get_diagnostics(running)
    assert counters and all(isinstance(v, int) for v in counters.values())
    assert counters["memory"] == running["memory_mb"] * 1024  # KiB


def test_diagnostics_of_an_unknown_instance(driver):
    ghost = new_instance()
    with pytest.raises(exceptions.InstanceNotFound):
        driver.get_instance_diagnostics(ghost)
    with pytest.raises(exceptions.InstanceNotFound):
        driver.get_diagnostics(ghost)


def test_standard_form_refuses_unknown_fields_and_drivers():
    with pytest.raises(ValueError):
        diagnostics.nic(bogus=1)
    with pytest.raises(ValueError):
        diagnostics.standard(state="running", driver="fake")
