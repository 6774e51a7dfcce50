import logging

import numpy as np

from nova_runtime.scheduler import utils
from nova_runtime.scheduler.filters import BaseFilter, everyone

LOG = logging.getLogger(__name__)


class ImagePropertiesFilter(BaseFilter):
    """Keeps the hosts whose supported_instances offer the image's
    hw_architecture, img_hv_type and hw_vm_mode (those it sets), and whose
    hypervisor version satisfies img_hv_requested_version ('>=6.0, <7')."""

    run_filter_once_per_request = True

    def filter_all(self, hosts, spec):
        props = spec.image_properties
        wanted = (
            utils.canonical_arch(props.get("hw_architecture")),
            utils.canonical_hv_type(props.get("img_hv_type")),
            utils.canonical_vm_mode(props.get("hw_vm_mode")),
        )
        if not any(wanted):
            return everyone(hosts)
        # As upstream, each wanted value must appear in the [arch, type, mode] offered.
        matching = [c for c, offered in enumerate(hosts.hv_specs)
                    if all(w is None or w in offered for w in wanted)]
        mask = hosts.hv_spec_member[:, matching].any(axis=1)
        required = props.get("img_hv_requested_version")
        if required:
            mask &= self._version_mask(hosts, required)
        return mask

    @staticmethod
    def _version_mask(hosts, required):
        predicate = utils.version_predicate(required)
        if predicate is None:
            LOG.warning("img_hv_requested_version %r does not parse: no versioned host matches",
                        required)
        versions, codes = np.unique(hosts.hypervisor_version, return_inverse=True)
        verdicts = np.array(
            [v == 0 or (predicate is not None and predicate(utils.version_to_tuple(v)))
             for v in versions.tolist()], dtype=bool)
        return verdicts[codes]
