"""nova-api as a process: what it serves, how it refuses to start, how it stops."""

import os
import signal
import subprocess
import sys

import requests

from harness import cli
from harness.cli import manage
from harness.nova_conf import write_nova_conf
from harness.processes import free_port, wait_for_http


def _conf(tmp_path, extra):
    return write_nova_conf(tmp_path / "nova.conf", f"sqlite:///{tmp_path}/api.sqlite",
                           f"sqlite:///{tmp_path}/nova.sqlite", extra=extra)


def test_serves_both_apis_and_stops_on_sigterm(tmp_path):
    port, metadata_port = free_port(), free_port()
    conf = _conf(tmp_path, "[DEFAULT]\nenabled_apis = osapi_compute,metadata\n"
                           "osapi_compute_listen = 127.0.0.1\n"
                           f"osapi_compute_listen_port = {port}\n"
                           "metadata_listen = 127.0.0.1\n"
                           f"metadata_listen_port = {metadata_port}\n"
                           "[api]\nauth_strategy = noauth2\n")
    assert manage(conf, "api_db", "sync").returncode == 0
    log, log_file = tmp_path / "nova-api.out", tmp_path / "nova-api.log"
    with open(log, "wb") as handle:
        # --log-file, as upstream's nova-api takes it (oslo.log's options)
        process = subprocess.Popen([os.path.join(cli.BIN, "nova-api"), "--config-file",
                                    str(conf), "--log-file", str(log_file)],
                                   stdout=handle, stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", process, log)
        flavors = requests.get(f"http://127.0.0.1:{port}/v2.1/flavors", timeout=10,
                               headers={"X-Auth-Token": "admin:admin"})
        assert flavors.status_code == 200 and flavors.json() == {"flavors": []}
        versions = requests.get(f"http://127.0.0.1:{metadata_port}/", timeout=10)
        assert versions.status_code == 200 and versions.text.splitlines()[-1] == "latest"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    text = log_file.read_text()
    assert f"metadata listening on http://127.0.0.1:{metadata_port}" in text
    assert "nova-api stopped" in text


def test_refuses_to_start(tmp_path):
    nothing = _conf(tmp_path, "[DEFAULT]\nenabled_apis =\n")
    result = cli.run("nova-api", config_file=nothing, timeout=60)
    assert result.returncode == 1
    assert "enabled_apis names no API" in result.stderr

    unsynced = _conf(tmp_path, "[DEFAULT]\nenabled_apis = osapi_compute\n")
    result = cli.run("nova-api", config_file=unsynced, timeout=60)
    assert result.returncode == 1
    assert "nova-manage api_db sync" in result.stderr


def test_wsgi_module_ignores_the_servers_command_line(tmp_path):
    """uwsgi and gunicorn import nova_runtime.api.wsgi with their own argv."""
    conf = _conf(tmp_path, "[api]\nauth_strategy = noauth2\n")
    code = ("import sys; sys.argv = ['gunicorn', '-w', '1', '-b', '127.0.0.1:1'];"
            "from nova_runtime.api import wsgi; import webob;"
            "r = webob.Request.blank('/v2.1').get_response(wsgi.application);"
            "print(r.status_int, r.json['version']['version'])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=dict(os.environ, OS_NOVA_CONFIG_FILES=str(conf)), timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "2.100"]
