"""The toolkit's filters that decide what the nova role does on a host
(plugins/filter/nova_host.py), against the inventories the toolkit ships:
the all-in-one, the lab (c2 on libvirt) and a scale-out."""

import importlib.util
import os

import pytest

_PATH = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir,
                     "plugins", "filter", "nova_host.py")
_spec = importlib.util.spec_from_file_location("nova_host_filters", _PATH)
filters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(filters)

# roles/nova/defaults/main.yml
SERVICES = {
    "nova-api": {"group": "controller"},
    "nova-scheduler": {"group": "controller"},
    "nova-conductor": {"group": "controller"},
    "nova-novncproxy": {"group": "controller"},
    "nova-compute": {"group": "compute"},
}
CONTROLLER_DAEMONS = ["nova-api", "nova-scheduler", "nova-conductor", "nova-novncproxy"]

ALL_IN_ONE = {"all": ["ct"], "controller": ["ct"], "compute": ["ct"], "ungrouped": []}
LAB = {"all": ["ct", "c1", "c2"], "controller": ["ct"], "compute": ["c1", "c2"], "ungrouped": []}
# What the inventory sets: role defaults (nova_compute_driver: fake) are not in hostvars.
LAB_HOSTVARS = {"ct": {}, "c1": {}, "c2": {"nova_compute_driver": "libvirt"}}


def profile(host, groups=LAB, hostvars=None, services=SERVICES, flat_network_dhcp=True):
    hostvars = LAB_HOSTVARS if hostvars is None else hostvars
    driver = hostvars.get(host, {}).get("nova_compute_driver", "fake")
    return filters.nova_host_profile(host, groups, hostvars, services, driver, flat_network_dhcp)


def test_all_in_one_on_the_fake_driver_is_controller_and_compute_without_libvirt():
    assert profile("ct", ALL_IN_ONE, {"ct": {}}) == {
        "controller": True,
        "compute": True,
        "libvirt": False,
        "libvirt_anywhere": False,
        "flat_dhcp": False,
        "flat_dhcp_anywhere": False,
        "parts": ["common", "controller", "compute"],
        "daemons": CONTROLLER_DAEMONS + ["nova-compute"],
    }


def test_lab_controller_signs_for_the_proxies_of_the_libvirt_compute():
    ct = profile("ct")
    assert (ct["controller"], ct["compute"], ct["libvirt"]) == (True, False, False)
    # c2's libvirt reaches every nova host: one virtualenv, with the binding.
    assert ct["libvirt_anywhere"] and ct["flat_dhcp_anywhere"] and not ct["flat_dhcp"]
    assert ct["parts"] == ["common", "controller", "flat_dhcp_controller"]
    assert ct["daemons"] == CONTROLLER_DAEMONS


def test_lab_fake_compute_runs_only_nova_compute_and_no_flat_network():
    c1 = profile("c1")
    assert c1["parts"] == ["common", "compute"]
    assert c1["daemons"] == ["nova-compute"]
    assert not c1["libvirt"] and not c1["flat_dhcp"]
    assert c1["libvirt_anywhere"] and c1["flat_dhcp_anywhere"]


def test_lab_libvirt_compute_serves_the_flat_network():
    c2 = profile("c2")
    assert c2["libvirt"] and c2["flat_dhcp"]
    assert c2["parts"] == ["common", "compute", "libvirt", "flat_dhcp_compute"]
    assert c2["daemons"] == ["nova-compute"]


def test_without_flat_network_dhcp_no_host_has_the_flat_dhcp_parts():
    for host in ("ct", "c1", "c2"):
        result = profile(host, flat_network_dhcp=False)
        assert not result["flat_dhcp"] and not result["flat_dhcp_anywhere"], host
        assert not {"flat_dhcp_controller", "flat_dhcp_compute"} & set(result["parts"]), host
    assert profile("c2", flat_network_dhcp=False)["parts"] == ["common", "compute", "libvirt"]


def test_flat_network_dhcp_must_be_a_boolean_not_the_string_an_ini_inventory_gives():
    # "false" is true in Python: the role passes nova_flat_network_dhcp | bool.
    with pytest.raises(TypeError, match="nova_flat_network_dhcp | bool"):
        profile("c2", flat_network_dhcp="false")


def test_a_host_outside_both_groups_has_only_the_common_part_and_no_daemon():
    groups = dict(LAB, all=LAB["all"] + ["x9"])
    result = profile("x9", groups, dict(LAB_HOSTVARS, x9={}))
    assert result["parts"] == ["common"]
    assert result["daemons"] == []


def test_libvirt_on_a_host_that_is_no_compute_is_not_a_libvirt_host():
    # The driver matters only for nova-compute; the binding still goes everywhere.
    hostvars = {"ct": {"nova_compute_driver": "libvirt"}, "c1": {}, "c2": {}}
    ct = profile("ct", LAB, hostvars)
    assert not ct["libvirt"] and ct["libvirt_anywhere"]
    assert "libvirt" not in ct["parts"]


def test_daemons_follow_nova_services_groups_in_their_order():
    services = {"nova-compute": {"group": "compute"}, "nova-conductor": {"group": "compute"},
                "nova-api": {"group": "controller"}}
    assert profile("c1", services=services)["daemons"] == ["nova-compute", "nova-conductor"]
    assert profile("ct", services=services)["daemons"] == ["nova-api"]
    assert profile("c1", services={})["daemons"] == []


def test_a_service_without_a_group_is_an_error_that_names_it():
    with pytest.raises(ValueError, match="nova-api needs a group"):
        profile("ct", services={"nova-api": {"hosts": "controller"}})


def test_scale_out_sees_every_compute_of_the_inventory_not_only_the_limited_ones():
    groups = {"all": ["ct", "c1", "c2", "c3"], "controller": ["ct"], "compute": ["c1", "c2", "c3"]}
    hostvars = dict(LAB_HOSTVARS, c3={})
    c3 = profile("c3", groups, hostvars)
    assert c3["libvirt_anywhere"] and not c3["libvirt"]
    assert c3["daemons"] == ["nova-compute"]


def test_for_parts_takes_the_values_of_the_host_parts_in_its_order():
    packages = {"controller": ["novnc"], "libvirt": ["libvirt-daemon", "qemu-utils"]}
    assert filters.nova_for_parts(packages, ["common", "compute", "libvirt"]) == [["libvirt-daemon", "qemu-utils"]]
    assert filters.nova_for_parts(packages, ["common", "controller", "compute", "libvirt"]) == [
        ["novnc"], ["libvirt-daemon", "qemu-utils"]]
    conf = {"common": {"DEFAULT": {"a": 1}}, "compute": {"DEFAULT": {"a": 2}}}
    # The host's order, not the mapping's: a later part wins when they are combined.
    assert filters.nova_for_parts(conf, ["compute", "common"]) == [{"DEFAULT": {"a": 2}}, {"DEFAULT": {"a": 1}}]
    assert filters.nova_for_parts(conf, []) == []


def test_for_parts_refuses_a_part_it_does_not_know():
    with pytest.raises(ValueError, match="unknown parts \\['computes'\\]"):
        filters.nova_for_parts({"computes": {}}, ["compute"])


def test_the_filters_are_registered_under_their_names():
    registered = filters.FilterModule().filters()
    assert registered == {"nova_host_profile": filters.nova_host_profile,
                          "nova_for_parts": filters.nova_for_parts}
