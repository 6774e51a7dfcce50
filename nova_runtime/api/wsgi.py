"""WSGI entry point for uwsgi, gunicorn or mod_wsgi: ``application``.

    uwsgi --http-socket :8774 --module nova_runtime.api.wsgi:application

nova.conf comes from OS_NOVA_CONFIG_FILES (paths separated by ';') and
OS_NOVA_CONFIG_DIR, else oslo.config's default places (/etc/nova/nova.conf).
The server's own command line is never parsed as nova-api's: oslo.config
would reject uwsgi's or gunicorn's options.
"""

import logging
import os

from nova_runtime import config
from nova_runtime.api import app


def init_application():
    conf = config.new_conf()
    files = [path for path in os.environ.get("OS_NOVA_CONFIG_FILES", "").split(";") if path]
    argv = []
    if os.environ.get("OS_NOVA_CONFIG_DIR"):
        argv += ["--config-dir", os.environ["OS_NOVA_CONFIG_DIR"]]
    config.load(conf, argv, prog="nova-api", default_config_files=files or None)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s")
    application = app.build(conf)
    app.freeze_startup_heap()
    return application


application = init_application()
