import numpy as np
import pytest

from nova_runtime.scheduler.weighers import normalize
from nova_runtime.scheduler.weighers.cpu_weigher import CPUWeigher
from nova_runtime.scheduler.weighers.disk_weigher import DiskWeigher
from nova_runtime.scheduler.weighers.ram_weigher import RAMWeigher
from tests.unit.scheduler.helpers import conf, hosts, record, spec


def test_normalize_is_min_max():
    assert normalize([2, 4, 6]).tolist() == [0.0, 0.5, 1.0]
    assert normalize([-10, 10]).tolist() == [0.0, 1.0]


def test_normalize_of_equal_weights_is_zero():
    assert normalize([3, 3, 3]).tolist() == [0.0, 0.0, 0.0]
    assert normalize([]).tolist() == []


def test_normalize_with_fixed_bounds():
    assert normalize([5], minval=0, maxval=10).tolist() == [0.5]


def _states():
    return hosts(
        record("a", free_ram_mb=1000, vcpus=4, vcpus_used=2, cpu_allocation_ratio=2.0,
               free_disk_gb=10),
        record("b", free_ram_mb=-50, vcpus=8, vcpus_used=0, cpu_allocation_ratio=1.0,
               free_disk_gb=20, disk_available_least=5))


def test_raw_weights():
    states, rows = _states(), np.array([0, 1])
    assert RAMWeigher().weigh_all(states, spec(), rows).tolist() == [1000.0, -50.0]
    assert CPUWeigher().weigh_all(states, spec(), rows).tolist() == [6.0, 8.0]
    assert DiskWeigher().weigh_all(states, spec(), rows).tolist() == [10240.0, 5120.0]
    assert RAMWeigher().weigh_all(states, spec(), np.array([1])).tolist() == [-50.0]


@pytest.mark.parametrize("weigher, option", [
    (RAMWeigher, "ram_weight_multiplier"),
    (CPUWeigher, "cpu_weight_multiplier"),
    (DiskWeigher, "disk_weight_multiplier"),
])
def test_multiplier_comes_from_its_option(weigher, option):
    assert weigher(conf()).multiplier == 1.0
    assert weigher(conf(**{f"filter_scheduler__{option}": -2.5})).multiplier == -2.5
