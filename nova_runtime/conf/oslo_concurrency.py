"""[oslo_concurrency]: lock_path for external (inter-process) locks."""

from oslo_concurrency import opts as concurrency_opts


def register_opts(conf):
    for group, opts in concurrency_opts.list_opts():
        conf.register_opts(opts, group=group)


def list_opts():
    return concurrency_opts.list_opts()
