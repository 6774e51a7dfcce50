"""Console scripts: nova-manage, nova-status and the daemons."""

import logging
import sys


def not_implemented(daemon):
    """Exit loudly for a daemon that does not exist yet, instead of pretending."""
    print(f"{daemon}: not implemented yet in nova_runtime; see the project's open issues.",
          file=sys.stderr)
    return 3


def quiet_library_logs():
    """Commands report their own errors in one line; libraries' warnings along
    the way (oslo.db's "SQL connection failed. 1 attempts left.") would only
    repeat them, so only their errors reach stderr."""
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
