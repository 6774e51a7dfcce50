"""A page of /servers/detail is read in bulk and with only the columns the
views use (bench/api.py measures it): these tests hold the listing to the
same answers as GET /servers/{id}, which reads each server whole."""

import datetime
import json
import types
import uuid

import pytest
import sqlalchemy as sa

from nova_runtime import config
from nova_runtime.api import microversion, server_views
from nova_runtime.api import server_listing
from nova_runtime.db import engines, migration
from nova_runtime.db.api import models as api_models
from nova_runtime.db.main import models as cell_models
from nova_runtime.network import flat
from nova_runtime.objects import fixed_ips, instance_actions, instances
from tests.unit.api.test_servers import FLAVOR, IMAGE, MEMBER, add_server
from nova_runtime import cells


class _Recording(dict):
    """A dict that remembers which keys were read."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


@pytest.mark.parametrize("version,admin", [("2.100", True), ("2.100", False), ("2.1", True)])
def test_views_read_only_the_columns_a_page_is_read_with(version, admin):
    conf = config.new_conf()
    config.load(conf, [], prog="test", default_config_files=[])
    req = types.SimpleNamespace(version=microversion.APIVersion(version), conf=conf,
                                environ={"nova.root_url": "http://api"}, host_url="http://api")
    view = server_views.ServerView(req, admin_attributes=admin, show_extra_specs=admin,
                                   host_status=admin)
    every_column = {column.name: None for column in cell_models.Instance.__table__.columns}
    instance = _Recording(every_column, uuid="u1", project_id="p", user_id="u",
                          vm_state="error", task_state=None, id=7, host="c1")
    view.show(instance, {"flavor": None, "fault": {"code": 500, "message": "m", "details": "d",
                                                   "created_at": None}})
    assert instance.read <= set(view.columns)
    assert set(view.columns) <= set(server_views.COLUMNS) <= set(every_column)
    assert ("user_data" in view.columns) == (admin and version != "2.1")
    summary = _Recording(every_column, uuid="u1")
    server_views.summary(req, summary)
    assert summary.read <= set(server_views.SUMMARY_COLUMNS)


def _network(urls):
    conf = config.new_conf()
    config.load(conf, [], prog="test", default_config_files=[])
    return fixed_ips.sync_network(urls["cell1"], flat.from_conf(conf))


def test_detail_page_matches_show(cloud):
    client, urls = cloud
    network = _network(urls)
    with_info = add_server(urls, "with-info", metadata={"role": "web"},
                           created=datetime.datetime(2024, 1, 1))
    fixed_ips.allocate(urls["cell1"], network, with_info)
    # An address in fixed_ips but none in the info cache: shown from fixed_ips.
    without_info = add_server(urls, "without-info", host="c2",
                              created=datetime.datetime(2024, 1, 2))
    with engines.get_engine(urls["cell1"]).begin() as connection:
        row_id = connection.scalar(sa.select(sa.func.max(cell_models.FixedIp.id)).where(
            cell_models.FixedIp.reserved == sa.false()))
        connection.execute(sa.update(cell_models.FixedIp).filter_by(id=row_id).values(
            allocated=True, instance_uuid=without_info))
    broken = add_server(urls, "broken", vm_state="error", host=None,
                        created=datetime.datetime(2024, 1, 3))
    instance_actions.fault_create(urls["cell1"], instance_uuid=broken, code=500,
                                  message="No valid host was found", details="Traceback...")
    # An old fault of a server that is ACTIVE again: not shown.
    instance_actions.fault_create(urls["cell1"], instance_uuid=with_info, code=500,
                                  message="old", details="old")

    for version in ("2.1", "2.47", "2.70", "2.100"):
        for query, who in (("?all_tenants=1", {}), ("", MEMBER)):
            listed = client("GET", f"/v2.1/servers/detail{query}", version=version, **who)
            assert listed.status_int == 200
            assert listed.content_type == "application/json"
            assert [s["name"] for s in listed.data["servers"]] == [
                "broken", "without-info", "with-info"]
            for entry in listed.data["servers"]:
                shown = client("GET", f"/v2.1/servers/{entry['id']}", version=version,
                               **who).data["server"]
                shown.pop("server_groups", None)  # only GET /servers/{id} shows them
                assert entry == shown, (version, who, entry["name"])
    page = {s["name"]: s for s in client("GET", "/v2.1/servers/detail", version="2.100",
                                         **MEMBER).data["servers"]}
    assert page["with-info"]["addresses"]["private"][0]["OS-EXT-IPS-MAC:mac_addr"]
    assert page["without-info"]["addresses"] == {"private": [{
        "version": 4, "addr": page["without-info"]["addresses"]["private"][0]["addr"],
        "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": None}]}
    assert page["broken"]["fault"]["message"] == "No valid host was found"
    assert "fault" not in page["with-info"]
    assert page["with-info"]["metadata"] == {"role": "web"}
    # 2.98: the image's properties, without the image_* keys that describe the image itself.
    assert page["with-info"]["image"]["properties"] == {"os_type": "linux"}
    assert page["with-info"]["scheduler_hints"] == {"group": "g1"}  # one value: a string
    assert page["with-info"]["pinned_availability_zone"] is None


def test_index_page_holds_ids_names_and_links(cloud):
    client, urls = cloud
    made = [add_server(urls, f"vm-{index}") for index in range(3)]
    listed = client("GET", "/v2.1/servers?sort_key=display_name&sort_dir=asc&limit=2",
                    **MEMBER).data
    assert [s["name"] for s in listed["servers"]] == ["vm-0", "vm-1"]
    assert set(listed["servers"][0]) == {"id", "name", "links"}
    assert listed["servers_links"][0]["href"].endswith(f"marker={made[1]}")


# --- the page's detail reads, on SQLite and on MariaDB -----------------------------

@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mysql)])
def page_databases(request, tmp_path):
    """{"api", "cell"}: synced databases of the dialect of the parameter."""
    if request.param == "sqlite":
        urls = {"api": f"sqlite:///{tmp_path}/api.sqlite",
                "cell": f"sqlite:///{tmp_path}/cell.sqlite"}
    else:
        created = request.getfixturevalue("nova_databases")
        urls = {"api": created["api"], "cell": created["main"]}
    migration.sync("api", urls["api"])
    migration.sync("main", urls["cell"])
    yield urls
    engines.dispose_all()


# Values that JSON must escape, and others it keeps as they are.
TRICKY = {'quote"d': 'say "hi"', "back\\slash": "C:\\temp\\", "lines": "one\ntwo\tthree",
          "unicode": "ünïcødé ☃ 雪", "empty": "", "percent_%": "100%"}


def _instance(url, name, metadata, system_metadata):
    server = str(uuid.uuid4())
    instances.create(url, {"uuid": server, "display_name": name, "project_id": "p",
                           "user_id": "u", "vm_state": "error"},
                     flavor=FLAVOR, metadata=metadata, system_metadata=system_metadata)
    return server


def test_cell_details_read_metadata_and_image_properties_exactly(page_databases):
    url = page_databases["cell"]
    tricky = _instance(url, "tricky", TRICKY, {
        "image_os_type": "linux", "image_hw_disk_bus": 'vir"tio', "image_min_ram": "0",
        "image_base_image_ref": IMAGE, "imagex_not_a_property": "x", "owner_note": "n"})
    bare = _instance(url, "bare", {}, {})
    same = _instance(url, "same", {"role": "web"}, {"image_os_type": "linux",
                                                    "image_hw_disk_bus": 'vir"tio'})
    lost_extra = _instance(url, "lost-extra", {"role": "db"}, {"image_os_type": "windows"})
    instances.set_metadata(url, tricky, {"unicode": "replaced"})  # the live value only
    instances.delete_metadata_key(url, tricky, "empty")
    with engines.get_engine(url).begin() as connection:
        connection.execute(sa.delete(cell_models.InstanceExtra).filter_by(
            instance_uuid=lost_extra))
    older, newer = datetime.datetime(2024, 1, 1), datetime.datetime(2024, 2, 1)
    for created, message in ((newer, "newest"), (older, "older")):
        with engines.get_engine(url).begin() as connection:
            connection.execute(sa.insert(cell_models.InstanceFault).values(
                instance_uuid=tricky, code=500, message=message, details="d",
                created_at=created, deleted=0))
    uuids = [tricky, bare, same, lost_extra]

    found = server_listing._cell_details(url, uuids, [tricky, bare], image_properties=True)

    assert set(found) == set(uuids)
    for server in uuids:  # as the one-server readers read them
        assert found[server]["metadata"] == instances.get_metadata(url, server)
        assert found[server]["image_properties"] == server_views.image_properties(
            instances.get_metadata(url, server, system=True))
    expected = {**TRICKY, "unicode": "replaced"}
    del expected["empty"]
    assert found[tricky]["metadata"] == expected
    assert found[tricky]["image_properties"] == {"os_type": "linux", "hw_disk_bus": 'vir"tio'}
    assert found[bare]["metadata"] == {} and found[bare]["image_properties"] == {}
    assert found[lost_extra]["flavor"] is None
    assert found[lost_extra]["image_properties"] == {"os_type": "windows"}
    assert found[tricky]["flavor"] == FLAVOR
    assert found[tricky]["fault"]["message"] == "newest"
    assert found[tricky]["fault"]["created_at"] == newer
    assert found[bare]["fault"] is None and found[same]["fault"] is None
    # Without image_properties the system metadata is not read.
    assert {entry["image_properties"] for entry in server_listing._cell_details(
        url, uuids, [], image_properties=False).values()} == {None}


def test_request_specs_read_the_zone_and_hints(page_databases):
    specs = {"pinned": {"availability_zone": "az1", "scheduler_hints": {"group": "g1",
                                                                        "same_host": ["a", "b"]}},
             "zone": {"availability_zone": "az2", "scheduler_hints": {}},
             "hints": {"availability_zone": None, "scheduler_hints": {"query": '["=", "x"]'}},
             "none in zone": {"availability_zone": "null", "scheduler_hints": None},
             # Left out: no pinned zone and no hints, however the spec says so.
             "plain": {"availability_zone": None, "scheduler_hints": {}},
             "older": {"flavor": {"name": "m1.tiny"}},
             "null hints": {"availability_zone": None, "scheduler_hints": None}}
    with engines.get_engine(page_databases["api"]).begin() as connection:
        connection.execute(sa.insert(api_models.RequestSpec), [
            {"instance_uuid": name, "spec": json.dumps(spec)} for name, spec in specs.items()])
    found = server_listing._request_specs(cells.Databases(page_databases["api"]),
                                          [*specs, "unknown"])
    assert found == {name: {"availability_zone": specs[name]["availability_zone"],
                            "scheduler_hints": specs[name]["scheduler_hints"]}
                     for name in ("pinned", "zone", "hints", "none in zone")}


@pytest.mark.parametrize("value", [
    datetime.datetime(2024, 5, 6, 7, 8, 9), datetime.datetime(2024, 5, 6, 7, 8, 9, 120),
    datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)])
def test_timestamps_keep_upstreams_formats(value):
    assert server_views.timestamp(value) == value.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert server_views.usage_timestamp(value) == value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert server_views.timestamp(None) is None and server_views.usage_timestamp(None) is None


def test_details_of_a_build_request_that_became_an_instance_meanwhile(cloud):
    # GET /servers/{id} read the build request; the conductor then made the
    # instance and deleted it: the details come from the instance's cell.
    _client, urls = cloud
    server = add_server(urls, "moved", metadata={"role": "db"})
    read_as_build_request = {"uuid": server, "cell_uuid": None, "vm_state": "building",
                             "host": None}
    found = server_listing.details(cells.Databases(urls["api"]), [read_as_build_request])
    assert found[server]["flavor"] == FLAVOR
    assert found[server]["metadata"] == {"role": "db"}
