import types

import pytest

from nova_runtime.scheduler import host_state
from tests.unit.scheduler.helpers import NOW


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    """Heartbeats in the helpers are relative to NOW, taken at import: without a
    frozen clock they look stale once a long test session has run a minute."""
    monkeypatch.setattr(host_state, "time", types.SimpleNamespace(time=lambda: NOW))
