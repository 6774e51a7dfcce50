from nova_runtime.scheduler import extra_specs_ops
from nova_runtime.scheduler.filters import BaseFilter, everyone

SCOPE = "aggregate_instance_extra_specs"


class AggregateInstanceExtraSpecsFilter(BaseFilter):
    """Matches the flavor's extra specs (unscoped, or scoped
    'aggregate_instance_extra_specs:') against the metadata of the host's
    aggregates: a host passes a spec when one of its aggregates has a value for
    the key that matches."""

    run_filter_once_per_request = True

    def filter_all(self, hosts, spec):
        mask = everyone(hosts)
        for key, requirement in spec.flavor.extra_specs.items():
            scope = key.split(":", 1)
            if len(scope) > 1:
                if scope[0] != SCOPE:
                    continue
                key = scope[1]
            matching = [
                a for a, metadata in enumerate(hosts.aggregate_metadata)
                if any(extra_specs_ops.match(v, requirement) for v in metadata.get(key, ()))]
            mask &= hosts.aggregate_member[:, matching].any(axis=1)
        return mask
