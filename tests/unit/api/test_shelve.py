"""shelve, shelveOffload and unshelve through the in-process API (SQLite,
noauth2): bodies per microversion, policies, states and locks. The casts to
the compute and the super-conductor, and Glance, are recorded instead of
sent (tests/unit/test_shelve.py runs the whole flow)."""

import pytest

from nova_runtime.compute import api as compute_api
from nova_runtime.compute import rpcapi as compute_rpcapi
from nova_runtime.image import glance
from nova_runtime.objects import instances
from tests.unit.api.test_servers import MEMBER, add_server


class Recorder:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda context, *args, **kwargs: self.calls.append((name, args, kwargs))


@pytest.fixture
def sent(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(compute_api.API, "conductor", property(lambda self: recorder))
    monkeypatch.setattr(compute_rpcapi.CellClients, "get", lambda self, cell=None: recorder)
    images = {}

    def create(context, name, conf=None, **values):
        images[name] = dict(values, id=f"image-{len(images)}", name=name)
        return images[name]

    monkeypatch.setattr(glance, "create", create)
    monkeypatch.setattr(glance, "delete", lambda *args, **kwargs: None)
    recorder.images = images
    return recorder


def action(client, server, body, version=None, **who):
    return client("POST", f"/v2.1/servers/{server}/action", body, version=version, **who)


def task_state(urls, server):
    return instances.get_by_uuid(urls["cell1"], server)["task_state"]


def test_shelve_makes_the_image_and_casts(cloud, sent):
    client, urls = cloud
    server = add_server(urls, "web")
    # Upstream reads nothing of the body.
    assert action(client, server, {"shelve": {"anything": 1}}, **MEMBER).status_int == 202
    assert task_state(urls, server) == "shelving"
    assert sent.images["web-shelved"]["properties"]["image_type"] == "snapshot"
    [(name, args, kwargs)] = sent.calls
    assert (name, args[1]) == ("shelve_instance", sent.images["web-shelved"]["id"])
    again = action(client, server, {"shelve": None}, **MEMBER)
    assert again.status_int == 409 and "task_state shelving" in \
        again.data["conflictingRequest"]["message"]


@pytest.mark.parametrize("vm_state", ["stopped", "paused", "suspended"])
def test_shelve_accepts_these_states(cloud, sent, vm_state):
    client, urls = cloud
    server = add_server(urls, "web", vm_state=vm_state)
    assert action(client, server, {"shelve": None}, **MEMBER).status_int == 202


def test_refusals_by_state_and_lock(cloud, sent):
    client, urls = cloud
    for vm_state in ("error", "shelved", "resized"):
        server = add_server(urls, "web", vm_state=vm_state)
        assert action(client, server, {"shelve": None}, **MEMBER).status_int == 409
    active = add_server(urls, "web")
    assert action(client, active, {"unshelve": None}, **MEMBER).status_int == 409
    assert action(client, active, {"shelveOffload": None}).status_int == 409
    assert action(client, active, {"lock": None}, **MEMBER).status_int == 202
    locked = action(client, active, {"shelve": None}, **MEMBER)
    assert locked.status_int == 409 and "is locked" in locked.data["conflictingRequest"][
        "message"]
    assert action(client, active, {"shelve": None}).status_int == 202  # an admin may
    assert sent.images and [name for name, *_ in sent.calls] == ["shelve_instance"]


def test_shelve_offload_is_an_admins(cloud, sent):
    client, urls = cloud
    server = add_server(urls, "web", vm_state="shelved")
    assert action(client, server, {"shelveOffload": None}, **MEMBER).status_int == 403
    assert action(client, server, {"shelveOffload": None}).status_int == 202
    assert task_state(urls, server) == "shelving_offloading"
    assert [name for name, *_ in sent.calls] == ["shelve_offload_instance"]
    offloaded = add_server(urls, "web", vm_state="shelved_offloaded", host=None, node=None)
    assert action(client, offloaded, {"shelveOffload": None}).status_int == 409


def test_unshelve_of_a_shelved_server_goes_to_its_host(cloud, sent):
    client, urls = cloud
    server = add_server(urls, "web", vm_state="shelved")
    # A zone is for a shelved-offloaded server only (409, as upstream).
    assert action(client, server, {"unshelve": {"availability_zone": "nova"}}, "2.77",
                  **MEMBER).status_int == 409
    assert action(client, server, {"unshelve": None}, **MEMBER).status_int == 202
    assert task_state(urls, server) == "unshelving"
    [(name, args, _kwargs)] = sent.calls
    assert (name, args[0]) == ("unshelve_instance", "c1")


def test_unshelve_bodies_by_microversion(cloud, sent):
    client, urls = cloud

    def offloaded():
        return add_server(urls, "web", vm_state="shelved_offloaded", host=None, node=None)

    # Before 2.77 the body is not read.
    server = offloaded()
    assert action(client, server, {"unshelve": {"availability_zone": "x"}}, "2.76",
                  **MEMBER).status_int == 202
    assert sent.calls[-1] == ("unshelve_instance", (server,), {"host": None})
    # 2.77: null or a zone, nothing else.
    for body in ({"unshelve": {}}, {"unshelve": {"host": "c1"}},
                 {"unshelve": {"availability_zone": None}},
                 {"unshelve": {"availability_zone": "nova"}, "other": 1}):
        assert action(client, offloaded(), body, "2.77", **MEMBER).status_int == 400, body
    assert action(client, offloaded(), {"unshelve": {"availability_zone": "nowhere"}},
                  "2.77", **MEMBER).status_int == 400
    server = offloaded()
    assert action(client, server, {"unshelve": {"availability_zone": "nova"}}, "2.77",
                  **MEMBER).status_int == 202
    assert instances.get_by_uuid(urls["cell1"], server)["availability_zone"] == "nova"
    # 2.91: a host is an admin's; a null zone unpins.
    assert action(client, offloaded(), {"unshelve": {"host": "c2"}}, "2.91",
                  **MEMBER).status_int == 403
    assert action(client, offloaded(), {"unshelve": {"host": "c9"}}, "2.91").status_int == 400
    assert action(client, offloaded(), {"unshelve": {"host": "c2", "zone": "x"}},
                  "2.91").status_int == 400
    server = offloaded()
    assert action(client, server, {"unshelve": {"host": "c2", "availability_zone": None}},
                  "2.91").status_int == 202
    assert sent.calls[-1] == ("unshelve_instance", (server,), {"host": "c2"})
    assert instances.get_by_uuid(urls["cell1"], server)["availability_zone"] is None
    server = offloaded()
    assert action(client, server, {"unshelve": {"availability_zone": None}}, "2.91",
                  **MEMBER).status_int == 202
    # Another project's server is not found.
    assert action(client, offloaded(), {"unshelve": None}, user="bob",
                  project="other").status_int == 404
