"""Which of the wanted flavors need openstack.cloud.compute_flavor.

One listing of the flavors (compute_flavor_info) replaces a compute_flavor run
per flavor on a re-run (each logs in and reads its flavor): compute_flavor then
runs only for the flavors this filter returns, and makes or corrects them.
"""


def nova_flavors_to_make(wanted, found):
    """The flavors of ``wanted`` (nova_flavors) that ``found`` lacks or has otherwise.

    compute_flavor finds a flavor by its id, then changes it when ram, vcpus,
    disk or is_public differ, or when it has extra specs (the toolkit sets
    none): the same comparison here, so that what it would leave alone is not
    returned.
    """
    by_id = {str(flavor["id"]): flavor for flavor in found}
    return [flavor for flavor in wanted if not _as_wanted(by_id.get(str(flavor["id"])), flavor)]


def _as_wanted(flavor, wanted):
    if flavor is None:
        return False
    return (flavor["ram"] == int(wanted["ram"]) and flavor["vcpus"] == int(wanted["vcpus"])
            and flavor["disk"] == int(wanted["disk"]) and flavor.get("is_public") is True
            and not flavor.get("extra_specs"))


class FilterModule:
    def filters(self):
        return {"nova_flavors_to_make": nova_flavors_to_make}
