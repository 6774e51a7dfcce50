import pytest

from nova_runtime.conf import filter_scheduler as opts
from nova_runtime.scheduler import filters, loader, weighers
from nova_runtime.scheduler.errors import UnknownPlugin
from tests.unit.scheduler.helpers import conf


@pytest.mark.parametrize("name, module", [
    ("RamFilter", "ram_filter"),
    ("RAMWeigher", "ram_weigher"),
    ("CPUWeigher", "cpu_weigher"),
    ("ServerGroupAntiAffinityFilter", "server_group_anti_affinity_filter"),
    ("AggregateInstanceExtraSpecsFilter", "aggregate_instance_extra_specs_filter"),
])
def test_module_name(name, module):
    assert loader.module_name(name) == module


def test_every_known_name_has_its_class():
    found = loader.load_classes("filter", "x", opts.FILTER_NAMES, opts.FILTER_NAMES, filters,
                                filters.BaseFilter)
    assert [c.__name__ for c in found] == list(opts.FILTER_NAMES)
    found = loader.load_classes("weigher", "x", opts.WEIGHER_NAMES, opts.WEIGHER_NAMES, weighers,
                                weighers.BaseWeigher)
    assert [c.__name__ for c in found] == list(opts.WEIGHER_NAMES)


def test_configured_filters_load_in_order():
    enabled = ["RamFilter", "RetryFilter"]
    loaded = loader.load_filters(conf(filter_scheduler__enabled_filters=enabled))
    assert [f.name for f in loaded] == ["RamFilter", "RetryFilter"]
    assert [w.name for w in loader.load_weighers(conf())] == list(opts.WEIGHER_NAMES)


def test_unknown_name_fails_clearly():
    with pytest.raises(UnknownPlugin) as raised:
        loader.load_classes("filter", "[filter_scheduler] enabled_filters", ["RamFliter"],
                            opts.FILTER_NAMES, filters, filters.BaseFilter)
    message = str(raised.value)
    assert "unknown filter 'RamFliter' in [filter_scheduler] enabled_filters" in message
    assert "RamFilter" in message  # the known names are listed


def test_a_known_name_without_its_class_fails_clearly():
    with pytest.raises(UnknownPlugin, match="has no class"):
        loader.load_classes("weigher", "x", ["RAMWeigher"], ["RAMWeigher"], filters,
                            filters.BaseFilter)
