import types

import pytest

from nova_runtime.scheduler import host_state
from harness import scheduler_reference as reference
from tests.unit.scheduler.helpers import NOW


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    """Heartbeats in the helpers are relative to NOW, taken at import: without a
    frozen clock they look stale once a long test session has run a minute."""
    clock = types.SimpleNamespace(time=lambda: NOW)
    monkeypatch.setattr(host_state, "time", clock)
    monkeypatch.setattr(reference, "time", clock)
