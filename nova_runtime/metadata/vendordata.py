"""Vendor data: what the operator gives every instance ([api]
vendordata_providers = StaticJSON, [api] vendordata_jsonfile_path)."""

import json
import logging

LOG = logging.getLogger(__name__)


def load(conf):
    """The JSON object of vendordata_jsonfile_path; {} when unset. A missing or
    broken file is logged and gives {}: an instance still boots, as upstream."""
    path = conf.api.vendordata_jsonfile_path
    if "StaticJSON" not in conf.api.vendordata_providers or not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        LOG.warning("Cannot read [api] vendordata_jsonfile_path %s: %s", path, exc)
        return {}
    if not isinstance(data, dict):
        LOG.warning("[api] vendordata_jsonfile_path %s holds a %s, not a JSON object",
                    path, type(data).__name__)
        return {}
    return data
