"""[scheduler]: the scheduler service and periodic host discovery."""

from oslo_config import cfg

GROUP = "scheduler"

opts = [
    cfg.StrOpt(
        "driver", default="filter_scheduler", choices=("filter_scheduler", "chance_scheduler"),
        help="filter_scheduler filters and weighs hosts; chance_scheduler picks any host "
             "that is up and enabled."),
    cfg.IntOpt(
        "max_attempts", default=3, min=1,
        help="How many hosts one build may try before it fails (RetryFilter's limit)."),
    cfg.IntOpt(
        "discover_hosts_in_cells_interval", default=-1, min=-1,
        help="Seconds between two runs of host discovery in the scheduler; -1 disables it, "
             "leaving discovery to 'nova-manage cell_v2 discover_hosts'."),
    cfg.IntOpt(
        "workers", min=1,
        help="nova-scheduler worker processes, each serving the scheduler topic with host "
             "states of its own (Placement's claims keep them from overcommitting a host); "
             "default: one."),
    cfg.IntOpt(
        "host_state_refresh_interval", default=10, min=0,
        help="Seconds after which nova-scheduler re-reads the compute nodes and services of "
             "every cell and the aggregates: before its next decision, and in its periodic "
             "task (which runs every [DEFAULT] periodic_interval). Between two reads it "
             "counts what it placed itself. 0 reads them before every decision."),
    cfg.IntOpt(
        "max_placement_results", default=1000, min=1,
        help="The most allocation candidates nova-scheduler asks Placement for "
             "(GET /allocation_candidates?limit=), as upstream's option of the same name: "
             "only these compute nodes are filtered and weighed. Placement returns the "
             "first ones it finds unless its [placement] randomize_allocation_candidates "
             "is set, so a lower value packs servers onto fewer hosts."),
    cfg.IntOpt(
        "placement_candidates_max_age", default=2, min=0,
        help="Seconds after its arrival for which later decisions that need the same "
             "resources and traits reuse an answer of GET /allocation_candidates instead of "
             "asking again (decisions made at the same time always share one). Placement "
             "builds every candidate before it applies the limit: about a second per query "
             "with 10,000 compute nodes. Reuse is safe within the staleness the scheduler "
             "already accepts (host states are [scheduler] host_state_refresh_interval old): "
             "Placement still checks each claim, a refused claim drops the kept answers, and a "
             "decision that finds no host on a kept answer is made again on a fresh one. A new "
             "compute node is offered at most this many seconds late. 0 asks Placement for "
             "every decision, as upstream Nova does."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
