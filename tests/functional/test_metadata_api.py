"""nova-api as a process serving the metadata API on MariaDB with cells: an
instance created in cell1 with its fixed address is found by address
(X-Forwarded-For behind a trusted proxy) and by a metadata proxy's signed
headers; nova-api stops both servers on SIGTERM."""

import base64
import contextlib
import os
import subprocess

import pytest
import requests

from nova_runtime.db import engines
from nova_runtime.network import api as network_api
from nova_runtime.objects import instances
from harness import cli
from harness.nova_conf import write_nova_conf
from tests.unit.test_metadata import PUBLIC_KEY, boot, make_cells, make_conf
from harness.processes import free_port, stop, wait_for_http

pytestmark = pytest.mark.mysql
SECRET = "METADATA_SECRET"


@contextlib.contextmanager
def nova_api(tmp_path, urls, extra):
    port, metadata_port = free_port(), free_port()
    conf = write_nova_conf(
        tmp_path / f"nova-{metadata_port}.conf", urls["api"], urls["main"], extra=(
            "[DEFAULT]\nenabled_apis = osapi_compute,metadata\n"
            f"osapi_compute_listen = 127.0.0.1\nosapi_compute_listen_port = {port}\n"
            f"metadata_listen = 127.0.0.1\nmetadata_listen_port = {metadata_port}\n"
            "fixed_range = 10.70.0.0/24\n"
            "[api]\nauth_strategy = noauth2\n" + extra))
    log = tmp_path / f"nova-api-{metadata_port}.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen([os.path.join(cli.BIN, "nova-api"), "--config-file", str(conf)],
                                   stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{metadata_port}"
    try:
        wait_for_http(url + "/", process, log)
        wait_for_http(f"http://127.0.0.1:{port}/", process, log)
        yield url, process, log
    finally:
        stop(process)


@pytest.fixture
def cloud(nova_databases):
    urls = nova_databases
    cell = make_cells(urls["api"], urls["main"], urls["cell0"])
    conf = make_conf(api_database__connection=urls["api"], fixed_range="10.70.0.0/24")
    web = boot(conf, urls["api"], cell, name="web-1", key_name="demo-key",
               user_data=b"#cloud-config\npackages: [nginx]\n", metadata={"tier": "front"})
    other = boot(conf, urls["api"], cell, name="db-1", project_id="another-project")
    yield urls, web, other
    network_api._synced.clear()
    engines.dispose_all()


def test_found_by_address_behind_a_trusted_proxy(tmp_path, cloud):
    urls, web, other = cloud
    extra = "use_forwarded_for = true\nmetadata_cache_expiration = 0\n"
    with nova_api(tmp_path, urls, extra) as (url, process, log):
        def get(path, address):
            return requests.get(url + path, headers={"X-Forwarded-For": address}, timeout=10)

        meta = get("/openstack/latest/meta_data.json", "10.70.0.2")
        assert meta.status_code == 200, log.read_text()
        body = meta.json()
        assert (body["uuid"], body["hostname"], body["meta"]) == (
            web["uuid"], "web-1.novalocal", {"tier": "front"})
        assert body["public_keys"] == {"demo-key": PUBLIC_KEY}
        assert get("/openstack/latest/user_data", "10.70.0.2").content == (
            b"#cloud-config\npackages: [nginx]\n")
        network = get("/openstack/latest/network_data.json", "10.70.0.2").json()
        assert network["networks"][0]["ip_address"] == "10.70.0.2"
        assert network["networks"][0]["routes"][0]["gateway"] == "10.70.0.1"
        assert get("/openstack/latest/vendor_data.json", "10.70.0.2").json() == {}
        assert get("/openstack/latest/vendor_data2.json", "10.70.0.2").json() == {}
        assert get("/openstack/2012-08-10/meta_data.json", "10.70.0.3").json()["uuid"] == (
            other["uuid"])
        assert "instance-id" in get("/latest/meta-data/", "10.70.0.2").text.splitlines()
        assert get("/latest/meta-data/local-ipv4", "10.70.0.3").text == "10.70.0.3"
        assert get("/latest/meta-data/public-keys/0/openssh-key", "10.70.0.2").text == PUBLIC_KEY
        assert get("/latest/meta-data/placement/availability-zone", "10.70.0.2").text == "az1"
        assert base64.b64decode(web["user_data"]) == get("/latest/user-data", "10.70.0.2").content
        assert get("/openstack", "10.70.0.2").text.splitlines()[-1] == "latest"
        assert get("/latest/meta-data/", "10.70.0.99").status_code == 404
        # A deleted instance's address answers no more.
        instances.destroy(urls["main"], other["uuid"], {"vm_state": "deleted"})
        assert get("/latest/meta-data/instance-id", "10.70.0.3").status_code == 404
        process.terminate()
        assert process.wait(timeout=20) == 0
    text = log.read_text()
    assert "metadata listening on" in text and "nova-api stopped" in text


def test_found_by_the_signed_headers_of_a_metadata_proxy(tmp_path, cloud):
    urls, web, other = cloud
    from nova_runtime.metadata.signature import sign
    extra = ("[neutron]\nservice_metadata_proxy = true\n"
             f"metadata_proxy_shared_secret = {SECRET}\n")
    with nova_api(tmp_path, urls, extra) as (url, process, log):
        def get(path, instance_id, tenant, signature):
            return requests.get(url + path, timeout=10, headers={
                "X-Instance-ID": instance_id, "X-Tenant-ID": tenant,
                "X-Instance-ID-Signature": signature, "X-Forwarded-For": "10.70.0.2"})

        good = get("/openstack/latest/meta_data.json", web["uuid"], "demo-project",
                   sign(SECRET, web["uuid"]))
        assert good.status_code == 200, log.read_text()
        assert good.json()["uuid"] == web["uuid"]
        assert get("/latest/meta-data/hostname", other["uuid"], "another-project",
                   sign(SECRET, other["uuid"])).text == "db-1.novalocal"
        assert get("/latest/meta-data/", web["uuid"], "demo-project",
                   sign("not-the-secret", web["uuid"])).status_code == 403
        assert get("/latest/meta-data/", web["uuid"], "another-project",
                   sign(SECRET, web["uuid"])).status_code == 404
        assert requests.get(url + "/latest/meta-data/", timeout=10).status_code == 400
