"""[DEFAULT] availability zone options, under their upstream names.

A compute host belongs to the zone named by the availability_zone metadata of
an aggregate it is in, else to default_availability_zone; every other service
belongs to internal_service_availability_zone.
"""

from oslo_config import cfg

opts = [
    cfg.StrOpt(
        "internal_service_availability_zone", default="internal",
        help="Zone shown for services other than nova-compute (conductor, scheduler...)."),
    cfg.StrOpt(
        "default_availability_zone", default="nova",
        help="Zone of compute hosts that are in no aggregate with an availability_zone."),
    cfg.StrOpt(
        "default_schedule_zone",
        help="Zone given to servers created without one; unset means any zone."),
]


def register_opts(conf):
    conf.register_opts(opts)


def list_opts():
    return [("DEFAULT", opts)]
