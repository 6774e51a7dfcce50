"""Map the names in nova.conf to plugin classes.

Every plugin lives in its own module, named after its class in snake case
(RamFilter in filters/ram_filter.py, RAMWeigher in weighers/ram_weigher.py).
The names that exist are those of conf.filter_scheduler (FILTER_NAMES and
WEIGHER_NAMES), so that config loading and this loader agree.
"""

import importlib
import re

from nova_runtime.conf import filter_scheduler as filter_scheduler_opts
from nova_runtime.scheduler import filters, weighers
from nova_runtime.scheduler.errors import UnknownPlugin


def module_name(class_name):
    """RamFilter -> ram_filter, RAMWeigher -> ram_weigher."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", class_name).lower()


def load_classes(kind, option, names, known, package, base):
    """The classes named ``names``, in order. ``kind`` ('filter') and ``option``
    ('[filter_scheduler] enabled_filters') only make the error readable."""
    classes = []
    for name in names:
        if name not in known:
            raise UnknownPlugin(
                f"unknown {kind} {name!r} in {option}; known {kind}s: {', '.join(sorted(known))}")
        path = f"{package.__name__}.{module_name(name)}"
        try:
            module = importlib.import_module(path)
        except ModuleNotFoundError as exc:
            if exc.name != path:
                raise
            raise UnknownPlugin(f"{kind} {name!r} has no class: no module {path}") from None
        cls = getattr(module, name, None)
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise UnknownPlugin(f"{kind} {name!r} has no class in {path}")
        classes.append(cls)
    return classes


def load_filters(conf):
    """Instances of the filters in [filter_scheduler] enabled_filters, in order."""
    classes = load_classes(
        "filter", "[filter_scheduler] enabled_filters", conf.filter_scheduler.enabled_filters,
        filter_scheduler_opts.FILTER_NAMES, filters, filters.BaseFilter)
    return [cls(conf) for cls in classes]


def load_weighers(conf):
    """Instances of the weighers in [filter_scheduler] weight_classes, in order."""
    classes = load_classes(
        "weigher", "[filter_scheduler] weight_classes", conf.filter_scheduler.weight_classes,
        filter_scheduler_opts.WEIGHER_NAMES, weighers, weighers.BaseWeigher)
    return [cls(conf) for cls in classes]
