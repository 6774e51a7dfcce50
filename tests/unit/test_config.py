import os

import pytest

from nova_runtime import config

FIXTURES = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures")


def _load(*argv):
    conf = config.new_conf()
    config.load(conf, list(argv), prog="test", default_config_files=[])
    return conf


def _write(tmp_path, text, name="nova.conf"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_controller_conf_from_the_install_guide_loads():
    conf = _load("--config-file", os.path.join(FIXTURES, "nova-controller.conf"))
    assert conf.enabled_apis == ["osapi_compute", "metadata"]
    assert conf.my_ip == "10.0.0.11"
    assert conf.use_neutron is True
    assert conf.api.auth_strategy == "keystone"
    assert conf.api_database.connection.endswith("/nova_api")
    assert conf.database.connection.endswith("/nova")
    assert conf.keystone_authtoken.memcached_servers == ["controller:11211"]
    assert conf.vnc.server_listen == "10.0.0.11"  # $my_ip interpolated
    assert conf.glance.api_servers == ["http://controller:9292"]
    assert "oslo_concurrency" not in conf
    assert conf.placement.auth_type == "password"
    assert conf.placement.service_type == "placement"
    assert conf.scheduler.discover_hosts_in_cells_interval == 300


def test_compute_conf_from_the_install_guide_loads():
    conf = _load("--config-file", os.path.join(FIXTURES, "nova-compute.conf"))
    assert conf.libvirt.virt_type == "qemu"
    assert conf.vnc.novncproxy_base_url == "http://controller:6080/vnc_auto.html"
    assert conf.cpu_allocation_ratio == 4.0
    assert "CoreFilter" in conf.filter_scheduler.enabled_filters
    assert conf.filter_scheduler.ram_weight_multiplier == 1.0


def test_integer_typo_names_file_section_and_option(tmp_path):
    path = _write(tmp_path, "[DEFAULT]\nreport_interval = abc\n")
    with pytest.raises(config.ConfigError) as raised:
        _load("--config-file", path)
    message = str(raised.value)
    assert f"{path}: [DEFAULT] report_interval" in message
    assert "abc" in message


def test_unknown_filter_name_is_rejected(tmp_path):
    path = _write(tmp_path, "[filter_scheduler]\nenabled_filters = RamFilter,RamFliter\n")
    with pytest.raises(config.ConfigError) as raised:
        _load("--config-file", path)
    message = str(raised.value)
    assert f"{path}: [filter_scheduler] enabled_filters" in message
    assert "RamFliter" in message


def test_every_bad_value_is_reported_at_once(tmp_path):
    path = _write(tmp_path, "[DEFAULT]\nservice_down_time = soon\n"
                            "[libvirt]\nvirt_type = xen\n")
    with pytest.raises(config.ConfigError) as raised:
        _load("--config-file", path)
    message = str(raised.value)
    assert "[DEFAULT] service_down_time" in message
    assert "[libvirt] virt_type" in message and "xen" in message


def test_later_file_in_config_dir_is_named(tmp_path):
    base = _write(tmp_path, "[DEFAULT]\nreport_interval = 5\n")
    confd = tmp_path / "nova.conf.d"
    confd.mkdir()
    override = _write(confd, "[DEFAULT]\nreport_interval = often\n", name="10-override.conf")
    with pytest.raises(config.ConfigError) as raised:
        _load("--config-file", base, "--config-dir", str(confd))
    assert f"{override}: [DEFAULT] report_interval" in str(raised.value)


def test_out_of_range_value_is_rejected(tmp_path):
    path = _write(tmp_path, "[scheduler]\nmax_attempts = 0\n")
    with pytest.raises(config.ConfigError, match=r"\[scheduler\] max_attempts"):
        _load("--config-file", path)


def test_missing_config_file(tmp_path):
    with pytest.raises(config.ConfigError, match="config file not found"):
        _load("--config-file", str(tmp_path / "absent.conf"))


def test_unparsable_config_file(tmp_path):
    path = _write(tmp_path, "this is not ini\n")
    with pytest.raises(config.ConfigError, match="cannot parse"):
        _load("--config-file", path)


def test_sample_config_lists_every_group(tmp_path):
    """oslo-config-generator writes a sample nova.conf from list_opts(), also
    when it loads oslo.messaging's options before ours."""
    import subprocess
    import sys

    generator = os.path.join(os.path.dirname(sys.executable), "oslo-config-generator")
    result = subprocess.run(
        [generator, "--namespace", "nova_runtime", "--namespace", "oslo.messaging",
         "--namespace", "keystonemiddleware.auth_token"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    sections = {line for line in result.stdout.splitlines() if line.startswith("[")}
    for group in ("[DEFAULT]", "[api_database]", "[database]", "[filter_scheduler]",
                  "[keystone_authtoken]", "[placement]", "[scheduler]", "[vnc]",
                  "[oslo_messaging_rabbit]"):
        assert group in sections
    assert "#cpu_allocation_ratio = 16.0" in result.stdout
