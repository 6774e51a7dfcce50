"""/os-instance_usage_audit_log: how far each compute got with auditing the
instances' usage of the last completed audit period (upstream's monthly
default: from the 1st of the month before to the 1st of this one).

Upstream reads the computes' reports from the task_log table, written only
where ``instance_usage_audit`` is on. nova-compute here never runs that
audit and the cell schema has no task_log, so every compute is listed as not
run, exactly as upstream answers with the audit off.
"""

import datetime

from nova_runtime.api import errors, util
from nova_runtime.objects import services
from nova_runtime.policies import instance_usage_audit_log as policies


def last_completed_month(before):
    """(begin, end): the last whole calendar month that ended before ``before``."""
    end = datetime.datetime(before.year, before.month, 1)
    if end >= before:
        end = _month_before(end)
    return _month_before(end), end


def _month_before(first):
    if first.month == 1:
        return first.replace(year=first.year - 1, month=12)
    return first.replace(month=first.month - 1)


def _audit(req, before):
    begin, end = last_completed_month(before)
    # Disabled computes count too: they can still hold instances.
    found, _down = services.list_in_cells(req.db, binary="nova-compute")
    hosts = sorted({service["host"] for _cell, service in found})
    task_logs = []  # no compute reports an audit (see the module's docstring)
    done = [log for log in task_logs if log["state"] == "DONE"]
    running = [log for log in task_logs if log["state"] == "RUNNING"]
    not_run = [host for host in hosts if host not in {log["host"] for log in task_logs}]
    errors_total = sum(log["errors"] for log in task_logs)
    done_text = "ALL" if len(done) == len(hosts) else f"{len(done)} of {len(hosts)}"
    return {
        "period_beginning": str(begin), "period_ending": str(end),
        "num_hosts": len(hosts), "num_hosts_done": len(done),
        "num_hosts_running": len(running), "num_hosts_not_run": len(not_run),
        "hosts_not_run": not_run,
        "total_instances": sum(log["task_items"] for log in task_logs),
        "total_errors": errors_total,
        "overall_status": f"{done_text} hosts done. {errors_total} errors.",
        "log": {log["host"]: {"state": log["state"], "instances": log["task_items"],
                              "errors": log["errors"], "message": log["message"]}
                for log in task_logs},
    }


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def index(req):
    req.context.can(policies.ROOT % "list", target={})
    return util.json_response({"instance_usage_audit_logs": _audit(req, _utcnow())})


def show(req, before_timestamp):
    """The audit of the period last completed before ``before_timestamp``
    ("YYYY-MM-DD HH:MM:SS[.ffffff]")."""
    req.context.can(policies.ROOT % "show", target={})
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in before_timestamp else "%Y-%m-%d %H:%M:%S"
    try:
        before = datetime.datetime.strptime(before_timestamp, fmt)
    except ValueError:
        raise errors.BadRequest(f"Invalid timestamp for date {before_timestamp}") from None
    return util.json_response({"instance_usage_audit_log": _audit(req, before)})
