"""Loading nova.conf: parse, then check every value before anything runs.

oslo.config converts values lazily, so a typo such as ``report_interval = abc``
would otherwise surface as a traceback deep inside a daemon.  ``load`` reads
every registered option once and turns each bad value into a line that names
the file, the section and the option.
"""

import glob
import os

from oslo_config import cfg

from nova_runtime import conf as nova_conf
from nova_runtime.db import engines

PROJECT = "nova"


class ConfigError(Exception):
    """nova.conf cannot be used; the message says what to fix."""


def new_conf():
    """A ConfigOpts with every nova_runtime option registered."""
    conf = cfg.ConfigOpts()
    nova_conf.register_all(conf)
    return conf


def load(conf, argv, prog, default_config_files=None):
    """Parse the command line and config files into ``conf`` and validate them.

    Raises ConfigError with a readable message for missing or unparsable files
    and invalid values. Database engines made afterwards follow its [database]
    and [api_database] options.
    """
    try:
        conf(argv, project=PROJECT, prog=prog,
             default_config_files=default_config_files)
    except cfg.ConfigFilesNotFoundError as exc:
        raise ConfigError(f"config file not found: {', '.join(exc.config_files)}") from None
    except cfg.ConfigFileParseError as exc:
        raise ConfigError(f"cannot parse {exc.config_file}: {exc.msg}") from None
    except cfg.RequiredOptError as exc:
        raise ConfigError(f"[{exc.group or 'DEFAULT'}] {exc.opt_name} is required") from None
    problems = [_describe(conf, group, name, exc) for group, name, exc in _bad_values(conf)]
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    engines.configure(conf)


def _bad_values(conf):
    """(group, option name, error) for each option whose value does not convert."""
    for key in conf:
        try:
            value = conf[key]
        except (cfg.ConfigFileValueError, ValueError) as exc:
            yield None, key, exc
            continue
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            for name in value:
                try:
                    value[name]
                except (cfg.ConfigFileValueError, ValueError) as exc:
                    yield key, name, exc


def _describe(conf, group, name, exc):
    reason = exc.__context__ if isinstance(exc, cfg.ConfigFileValueError) else exc
    section = group or "DEFAULT"
    path = _file_setting(conf, section, name)
    where = f"{path}: " if path else ""
    return f"{where}[{section}] {name}: {reason}"


def _file_setting(conf, section, name):
    """The last config file (they override in order) that sets section.name."""
    paths = list(conf.config_file or [])
    for directory in conf.config_dir or []:  # a list: --config-dir may repeat
        paths.extend(sorted(glob.glob(os.path.join(directory, "*.conf"))))
    found = None
    for path in paths:
        sections = {}
        cfg.ConfigParser(path, sections).parse()
        if name in sections.get(section, {}):
            found = path
    return found
