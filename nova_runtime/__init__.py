"""nova_runtime: an OpenStack-style compute service with cells v2."""

import warnings

# nova_runtime runs on native threads. eventlet is only installed because
# oslo.service depends on it; libraries that probe for it (futurist) would make
# every command print its deprecation notice.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from oslo_service import backend as _oslo_service_backend  # noqa: E402

# oslo.service (which oslo.messaging imports) picks eventlet unless told otherwise.
_oslo_service_backend.init_backend(_oslo_service_backend.BackendType.THREADING)
