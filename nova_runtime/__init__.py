"""nova_runtime: an OpenStack-style compute service with cells v2."""

import sys
import warnings


def _quiet_library_warnings():
    """Operators never see libraries' warnings: every command and daemon
    imports this package first, and nova-manage's "one clear line" must stay
    one line whatever the libraries' versions (dnspython, imported through
    eventlet, printed 16 lines of cryptography's notice that DSA is deprecated;
    futurist the notice that eventlet is). Warnings raised by nova_runtime's own
    code, or about it, still show; PYTHONWARNINGS (or -W) shows what it asks."""
    if not sys.warnoptions:
        warnings.filterwarnings("ignore", module=r"(?!nova_runtime\b)")


_quiet_library_warnings()

from oslo_service import backend as _oslo_service_backend  # noqa: E402

# oslo.service (which oslo.messaging imports) picks eventlet unless told otherwise.
# Our console scripts import this package first, so the choice holds for every
# daemon; a tool that loaded oslo.messaging before us (oslo-config-generator
# reading several namespaces) only reads our option lists, and keeps its backend.
try:
    _oslo_service_backend.init_backend(_oslo_service_backend.BackendType.THREADING)
except _oslo_service_backend.exceptions.BackendAlreadySelected:
    pass
