"""The sample nova.conf (oslo-config-generator with etc/nova-config-generator.conf)
lists exactly the options that nova_runtime registers, and each is honoured:
nova_runtime's own options are read by the code, and each group that belongs to
a library is handed to that library."""

import ast
import pathlib
import re
import subprocess
import sys

import pytest
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
from oslo_log import log

from nova_runtime import conf as nova_conf
from nova_runtime import config

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "nova_runtime"
GENERATOR_CONF = ROOT / "etc" / "nova-config-generator.conf"

# Modules of nova_runtime/conf that declare a library's options: the library
# reads them once it is handed the ConfigOpts, at the call that says so.
LIBRARY_MODULES = {
    nova_conf.keystone_authtoken: r'auth_token\.AuthProtocol\(\s*\w+,\s*\{"oslo_config_config": conf\}',
    nova_conf.placement: r"load_session_from_conf_options\(conf, GROUP",
    nova_conf.oslo_policy: r"oslo_policy\.Enforcer\(conf\)",
    nova_conf.messaging: r"messaging\.get_rpc_transport\(\s*conf,",
}
# oslo.log's options (nova_runtime.conf.list_opts lists them) are the daemons':
# they register them and hand the ConfigOpts to oslo.log.
OSLO_LOG_SETUP = r'log\.setup\(conf, "nova"\)'


def _generated_options(tmp_path):
    sample = tmp_path / "nova.conf.sample"
    subprocess.run([sys.executable, "-m", "oslo_config.generator",
                    "--config-file", str(GENERATOR_CONF), "--output-file", str(sample)],
                   check=True, cwd=ROOT, capture_output=True)
    options, section = set(), None
    for line in sample.read_text().splitlines():
        if match := re.fullmatch(r"\[(\w+)\]", line):
            section = match.group(1)
        elif match := re.match(r"#(\w+) =", line):
            options.add((section, match.group(1)))
    return options


def _registered_options():
    """What a daemon registers (nova_runtime.cmd.daemon_conf), with keystoneauth's
    password plugin options, which it registers once auth_type = password."""
    conf = config.new_conf()
    log.register_options(conf)
    for group in ("keystone_authtoken", "placement"):
        conf.register_opts(ks_loading.get_auth_plugin_conf_options("password"), group=group)
    # oslo.config's own (config_source, ...), in every ConfigOpts: not nova's to list.
    options, own = set(), set(cfg.ConfigOpts())
    for key in set(conf) - own:
        value = conf[key]
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            options |= {(key, name) for name in value}
        else:
            options.add(("DEFAULT", key))
    return options


def test_sample_lists_exactly_the_registered_options(tmp_path):
    generated = _generated_options(tmp_path)
    registered = _registered_options()
    assert generated - registered == set(), "in the sample, not registered"
    assert registered - generated == set(), "registered, not in the sample"


def _sources():
    return {path: path.read_text() for path in PACKAGE.rglob("*.py")
            if PACKAGE / "conf" not in path.parents}


def _names_read(sources):
    """Attribute names (conf.group.name) and whole-string names (group["name"],
    getattr(group, "name"), a weigher's multiplier_option = "name") in the code
    outside nova_runtime/conf."""
    names = set()
    for source in sources.values():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
    return names


def _only_choice(opt):
    """An option that accepts one value only: the code does what it says."""
    choices = getattr(opt.type, "choices", None)
    return choices is not None and len(choices) == 1


def test_own_options_are_read_by_the_code():
    names = _names_read(_sources())
    unread = [f"[{group}] {opt.dest}"
              for module in nova_conf._MODULES if module not in LIBRARY_MODULES
              for group, opts in module.list_opts() for opt in opts
              if opt.dest not in names and not _only_choice(opt)]
    assert unread == [], "declared under nova_runtime/conf but never read: remove or honour"


@pytest.mark.parametrize("module", list(LIBRARY_MODULES), ids=lambda m: m.__name__)
def test_library_groups_are_handed_to_their_library(module):
    code = "\n".join(_sources().values())
    assert re.search(LIBRARY_MODULES[module], code), f"{module.__name__}: not handed over"


def test_oslo_log_options_are_handed_to_oslo_log():
    assert re.search(OSLO_LOG_SETUP, "\n".join(_sources().values()))
