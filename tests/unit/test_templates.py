"""The toolkit's shared templates (templates/ini.j2, the uwsgi_service role's uwsgi.ini.j2),
rendered with Jinja set up as Ansible's template module sets it up (trim_blocks,
the template's trailing newline kept), and the roles' tasks that name them."""

import glob
import os
import re

import jinja2
import pytest
import yaml

_ROOT = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir)
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(
    [os.path.join(_ROOT, "templates"), os.path.join(_ROOT, "roles", "uwsgi_service", "templates")]),
                          trim_blocks=True, keep_trailing_newline=True,
                          undefined=jinja2.StrictUndefined)


def render(name, **variables):
    return _ENV.get_template(name).render(**variables)


def test_ini_keeps_the_data_order_with_default_first():
    text = render("ini.j2", ini_header="Managed by Ansible (role glance). Change x, not this file.",
                  ini_sections={
                      "database": {"connection": "mysql+pymysql://g:p@db/glance"},
                      "DEFAULT": {"use_stderr": True, "debug": None},
                      "keystone_authtoken": {"memcached_servers": ["m1:11211", "m2:11211"],
                                             "auth_type": "password"},
                  })
    assert text == (
        "# Managed by Ansible (role glance). Change x, not this file.\n"
        "[DEFAULT]\n"
        "use_stderr = True\n"
        "\n"
        "[database]\n"
        "connection = mysql+pymysql://g:p@db/glance\n"
        "\n"
        "[keystone_authtoken]\n"
        "memcached_servers = m1:11211,m2:11211\n"
        "auth_type = password\n"
        "\n")


def test_ini_sorted_orders_sections_and_options_by_name():
    text = render("ini.j2", ini_header="Ansible managed\nChange nova_nova_conf_overrides.",
                  ini_sorted=True,
                  ini_sections={
                      "vnc": {"server_listen": "$my_ip", "enabled": True},
                      "api": {"auth_strategy": "keystone"},
                      "DEFAULT": {"my_ip": "10.0.0.1", "host": "c1", "zz": None},
                  })
    assert text == (
        "# Ansible managed\n"
        "# Change nova_nova_conf_overrides.\n"
        "[DEFAULT]\n"
        "host = c1\n"
        "my_ip = 10.0.0.1\n"
        "\n"
        "[api]\n"
        "auth_strategy = keystone\n"
        "\n"
        "[vnc]\n"
        "enabled = True\n"
        "server_listen = $my_ip\n"
        "\n")


def test_ini_without_default_section():
    text = render("ini.j2", ini_header="h", ini_sections={"mysqld": {"max_connections": 4096}})
    assert text == "# h\n[mysqld]\nmax_connections = 4096\n\n"


def test_uwsgi_spells_booleans_as_uwsgi_does_and_drops_nulls():
    text = render("uwsgi.ini.j2", uwsgi_header="Managed by Ansible (role keystone).",
                  uwsgi_options={"master": True, "processes": 4, "lazy-apps": None,
                                 "need-app": False, "add-header": "Connection: close"})
    assert text == (
        "# Managed by Ansible (role keystone).\n"
        "[uwsgi]\n"
        "master = true\n"
        "processes = 4\n"
        "need-app = false\n"
        "add-header = Connection: close\n")


def test_a_missing_input_is_an_error_not_an_empty_file():
    with pytest.raises(jinja2.UndefinedError):
        render("ini.j2", ini_header="h")


def _template_tasks():
    for path in sorted(glob.glob(os.path.join(_ROOT, "roles", "*", "tasks", "*.yml"))):
        with open(path) as f:
            for task in yaml.safe_load(f) or []:
                module = task.get("ansible.builtin.template")
                if module:
                    yield path, task, module


def test_roles_name_shared_templates_that_exist_and_pass_their_inputs():
    inputs = {"ini.j2": {"ini_header", "ini_sections"},
              "uwsgi.ini.j2": {"uwsgi_header", "uwsgi_options"}}
    shared = 0
    for path, task, module in _template_tasks():
        match = re.fullmatch(r"\{\{ role_path \| dirname \| dirname \}\}/templates/(.+)",
                             module["src"])
        if not match:
            role_dir = os.path.dirname(os.path.dirname(path))
            assert os.path.isfile(os.path.join(role_dir, "templates", module["src"])), path
            assert inputs.get(module["src"], set()) <= set(task.get("vars", {})), path
            continue
        shared += 1
        name = match.group(1)
        assert os.path.isfile(os.path.join(_ROOT, "templates", name)), (path, name)
        assert inputs[name] <= set(task.get("vars", {})), (path, task["name"])
    # keystone, glance, placement: conf; nova.conf; MariaDB's cnf; tempest.conf.
    assert shared == 6
