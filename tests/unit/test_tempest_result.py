"""roles/tempest/files/tempest_result.py: which skips the expected list allows."""

import importlib.util
import os

import pytest

_PATH = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir,
                     "roles", "tempest", "files", "tempest_result.py")
_spec = importlib.util.spec_from_file_location("tempest_result", _PATH)
judge = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(judge)

CLASS = "tempest.api.compute.servers.test_attach_interfaces.AttachInterfacesTestJSON"


@pytest.mark.parametrize("test_id, plain", [
    (f"{CLASS}.test_create_list_show_delete_interfaces_by_network_port[id-73fe,network]",
     f"{CLASS}.test_create_list_show_delete_interfaces_by_network_port"),
    (f"setUpClass ({CLASS})", CLASS),
    (f"tearDownClass ({CLASS})", CLASS),
])
def test_ids_lose_their_tags_and_fixtures_name_their_class(test_id, plain):
    assert judge.plain_id(test_id) == plain


def test_a_class_or_module_line_allows_what_is_inside_it_only():
    expected = {CLASS: "no Neutron", "tempest.api.compute.volumes": "no Cinder"}
    assert judge.allowed(f"setUpClass ({CLASS})", expected)
    assert judge.allowed(f"{CLASS}.test_x[id-1]", expected)
    assert judge.allowed("tempest.api.compute.volumes.test_volumes_get.C.test_y", expected)
    assert not judge.allowed(f"{CLASS}Other.test_x", expected)  # a prefix of a name is not a parent
    assert not judge.allowed("tempest.api.compute.servers.test_servers.C.test_z", expected)


def test_every_expected_line_needs_a_reason(tmp_path):
    path = tmp_path / "skips.txt"
    path.write_text(f"# comment\n\n{CLASS}  # no Neutron\n")
    assert judge.read_expected(str(path)) == {CLASS: "no Neutron"}
    path.write_text(f"{CLASS}\n")
    with pytest.raises(SystemExit, match="has no reason"):
        judge.read_expected(str(path))


def test_the_repository_list_gives_a_reason_for_every_line():
    judge.read_expected(os.path.join(os.path.dirname(_PATH), "expected-skips.txt"))
