"""Console scripts: nova-manage, nova-status and the daemons."""

import sys


def not_implemented(daemon):
    """Exit loudly for a daemon that does not exist yet, instead of pretending."""
    print(f"{daemon}: not implemented yet in nova_runtime; see the project's open issues.",
          file=sys.stderr)
    return 3
