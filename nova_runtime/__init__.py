"""nova_runtime: an OpenStack-style compute service with cells v2."""

import warnings

# nova_runtime runs on native threads. eventlet is only installed because
# oslo.service depends on it; libraries that probe for it (futurist) would make
# every command print its deprecation notice.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from oslo_service import backend as _oslo_service_backend  # noqa: E402

# oslo.service (which oslo.messaging imports) picks eventlet unless told otherwise.
# Our console scripts import this package first, so the choice holds for every
# daemon; a tool that loaded oslo.messaging before us (oslo-config-generator
# reading several namespaces) only reads our option lists, and keeps its backend.
try:
    _oslo_service_backend.init_backend(_oslo_service_backend.BackendType.THREADING)
except _oslo_service_backend.exceptions.BackendAlreadySelected:
    pass
