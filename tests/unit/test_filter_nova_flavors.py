"""plugins/filter/nova_flavors.py: which flavors roles/nova/tasks/flavors.yml
hands to openstack.cloud.compute_flavor, from what compute_flavor_info found."""

import importlib.util
import os

_PATH = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir,
                     "plugins", "filter", "nova_flavors.py")
_spec = importlib.util.spec_from_file_location("nova_flavors_filters", _PATH)
filters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(filters)

WANTED = [
    {"name": "m1.tiny", "id": "1", "ram": 512, "vcpus": 1, "disk": 1},
    {"name": "m1.small", "id": "2", "ram": 2048, "vcpus": 1, "disk": 20},
]


def found(flavor_id, name, ram, vcpus, disk, **extra):
    """A flavor as compute_flavor_info returns it (openstacksdk's to_dict, abridged)."""
    flavor = {"id": flavor_id, "name": name, "ram": ram, "vcpus": vcpus, "disk": disk,
              "ephemeral": 0, "swap": 0, "is_public": True, "is_disabled": False,
              "rxtx_factor": 1.0, "extra_specs": {}, "description": None}
    flavor.update(extra)
    return flavor


def test_nothing_to_make_when_every_flavor_is_there_as_wanted():
    there = [found("1", "m1.tiny", 512, 1, 1), found("2", "m1.small", 2048, 1, 20),
             found("42", "custom", 64, 1, 0)]
    assert filters.nova_flavors_to_make(WANTED, there) == []


def test_a_missing_flavor_is_made():
    assert filters.nova_flavors_to_make(WANTED, [found("1", "m1.tiny", 512, 1, 1)]) == [WANTED[1]]
    assert filters.nova_flavors_to_make(WANTED, []) == WANTED


def test_a_flavor_that_differs_is_made_again():
    for there in (found("2", "m1.small", 1024, 1, 20), found("2", "m1.small", 2048, 2, 20),
                  found("2", "m1.small", 2048, 1, 10), found("2", "m1.small", 2048, 1, 20, is_public=False),
                  found("2", "m1.small", 2048, 1, 20, extra_specs={"hw:cpu_policy": "dedicated"})):
        assert filters.nova_flavors_to_make(WANTED, [found("1", "m1.tiny", 512, 1, 1), there]) == [WANTED[1]]


def test_flavors_are_matched_by_id_as_compute_flavor_finds_them():
    # The same name under another id is not the wanted flavor; ids compare as strings.
    assert filters.nova_flavors_to_make(WANTED, [found("7", "m1.tiny", 512, 1, 1),
                                                 found("2", "m1.small", 2048, 1, 20)]) == [WANTED[0]]
    assert filters.nova_flavors_to_make([dict(WANTED[0], id=1)], [found("1", "m1.tiny", 512, 1, 1)]) == []
