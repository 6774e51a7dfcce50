"""Console scripts: nova-manage, nova-status and the daemons."""

import logging


def quiet_library_logs():
    """Commands report their own errors in one line; libraries' warnings along
    the way (oslo.db's "SQL connection failed. 1 attempts left.") would only
    repeat them, so only their errors reach stderr."""
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
