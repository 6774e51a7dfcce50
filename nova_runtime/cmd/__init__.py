"""Console scripts: nova-manage, nova-status and the daemons."""

import logging
import sys

from oslo_log import log

from nova_runtime import config

# Library loggers that would only repeat what the daemons say in one line
# (oslo.db: "SQL connection failed. 1 attempts left.", at each attempt).
QUIET_LOGGERS = ["oslo_db.sqlalchemy.engines=ERROR", "oslo_policy=WARN"]


def daemon_conf(prog, argv=None, register=None):
    """A daemon's configuration: nova.conf and its command line, oslo.log's
    options included (--log-file, --log-dir, --debug, as upstream's daemons
    take them), with logging set up from it (stderr unless a log file or
    directory is set). ``register(conf)`` adds the daemon's own options or
    defaults first. None, after one line on stderr, when it cannot be loaded."""
    conf = config.new_conf()
    log.register_options(conf)
    log.set_defaults(default_log_levels=log.get_default_log_levels() + QUIET_LOGGERS)
    if register is not None:
        register(conf)
    try:
        config.load(conf, sys.argv[1:] if argv is None else argv, prog=prog)
    except config.ConfigError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return None
    if not (conf.log_file or conf.log_dir):
        conf.set_default("use_stderr", True)  # oslo.log's own default is stdout
    log.setup(conf, "nova")
    return conf


def quiet_library_logs():
    """Commands report their own errors in one line; libraries' warnings along
    the way (oslo.db's "SQL connection failed. 1 attempts left.") would only
    repeat them, so only their errors reach stderr."""
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
