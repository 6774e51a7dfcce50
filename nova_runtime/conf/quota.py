"""[quota]: the default limits of every project, as upstream names them.

A project's own limits (os-quota-sets) and the 'default' quota class in the API
database override these. -1 means unlimited.
"""

from oslo_config import cfg

GROUP = "quota"

opts = [
    cfg.IntOpt("instances", default=10, min=-1, help="Servers per project."),
    cfg.IntOpt("cores", default=20, min=-1, help="Instance cores (VCPUs) per project."),
    cfg.IntOpt("ram", default=50 * 1024, min=-1, help="Megabytes of instance RAM per project."),
    cfg.IntOpt("metadata_items", default=128, min=-1, help="Metadata items per server."),
    cfg.IntOpt("injected_files", default=5, min=-1, help="Injected files per server."),
    cfg.IntOpt("injected_file_content_bytes", default=10 * 1024, min=-1,
               help="Bytes of one injected file."),
    cfg.IntOpt("injected_file_path_length", default=255, min=-1,
               help="Characters of an injected file's path."),
    cfg.IntOpt("key_pairs", default=100, min=-1, help="Key pairs per user."),
    cfg.IntOpt("server_groups", default=10, min=-1, help="Server groups per project."),
    cfg.IntOpt("server_group_members", default=10, min=-1, help="Servers per server group."),
    cfg.BoolOpt(
        "recheck_quota", default=True,
        help="Count the instances quota again when the super-conductor records a new "
             "instance (under a per-project lock in the API database), so that racing "
             "requests cannot exceed it: an instance that no longer fits ends in ERROR "
             "with a 'Quota exceeded' fault. False skips the recount (and its lock)."),
]


def register_opts(conf):
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
