"""What happened to an instance: action events (os-instance-actions) and faults."""

import sqlalchemy as sa

from nova_runtime.db.base import utcnow
from nova_runtime.db.main.models import InstanceAction, InstanceActionEvent, InstanceFault
from nova_runtime.objects import exceptions
from nova_runtime.cells import session
from nova_runtime.objects._db import as_dict, insert_row, read_row, update_row, within

# instance_faults.message is VARCHAR(255); details keep the rest.
_MESSAGE_LENGTH = 255


def fault_create(url, *, instance_uuid, code, message, details=None, host=None):
    with session(url) as db:
        row = InstanceFault(instance_uuid=instance_uuid, code=code,
                            message=(message or "")[:_MESSAGE_LENGTH],
                            details=details, host=host)
        db.add(row)
    return as_dict(row)


def faults_for(url, instance_uuid):
    """The instance's faults, newest first."""
    with session(url) as db:
        return [as_dict(row) for row in db.scalars(
            sa.select(InstanceFault).filter_by(instance_uuid=instance_uuid, deleted=0)
            .order_by(InstanceFault.created_at.desc(), InstanceFault.id.desc()))]


def action_start(url, *, instance_uuid, request_id, action, user_id=None, project_id=None):
    """Record that request ``request_id`` started ``action`` (create, delete,
    stop, start, ...) on the instance; its steps are events."""
    with session(url) as db:
        row = InstanceAction(action=action, instance_uuid=instance_uuid, request_id=request_id,
                             user_id=user_id, project_id=project_id, start_time=utcnow())
        db.add(row)
    return as_dict(row)


def action_with_event(url, *, instance_uuid, request_id, action, event, result,
                      user_id=None, project_id=None, traceback=None):
    """An action whose one step already ended (the conductor's create: the
    scheduling step), in one transaction instead of action_start,
    event_start and event_finish's three; Core inserts, as every build
    records one."""
    now = utcnow()
    with session(url) as db:
        action_id = db.execute(sa.insert(InstanceAction.__table__).values(
            action=action, instance_uuid=instance_uuid, request_id=request_id,
            user_id=user_id, project_id=project_id, start_time=now,
            message="Error" if result.lower() == "error" else None)).inserted_primary_key[0]
        db.execute(sa.insert(InstanceActionEvent.__table__).values(
            action_id=action_id, event=event, start_time=now, finish_time=now, result=result,
            traceback=traceback))


def actions_for(url, instance_uuid):
    """The instance's actions, oldest first, each with its ``events`` (oldest first)."""
    with session(url) as db:
        actions = [as_dict(row) for row in db.scalars(
            sa.select(InstanceAction).filter_by(instance_uuid=instance_uuid, deleted=0)
            .order_by(InstanceAction.id))]
        for action in actions:
            action["events"] = [as_dict(row) for row in db.scalars(
                sa.select(InstanceActionEvent).filter_by(action_id=action["id"], deleted=0)
                .order_by(InstanceActionEvent.id))]
    return actions


def event_start(url, *, instance_uuid, request_id, event, host=None, db=None):
    """Record that a step (e.g. compute_build_and_run_instance) of the action
    that request ``request_id`` started on ``instance_uuid`` has begun.
    ``db``: in that session; raises before it writes."""
    with within(url, db) as db:
        action = _action_row(db, instance_uuid, request_id)
        return insert_row(db, InstanceActionEvent.__table__, {
            "action_id": action["id"], "event": event, "host": host, "start_time": utcnow()})


def event_finish(url, *, instance_uuid, request_id, event, result, traceback=None, db=None):
    """Close the step: result 'Success' or 'Error'. An error marks the whole
    action's message 'Error', as os-instance-actions shows it. ``db``: in
    that session; raises before it writes."""
    events, actions = InstanceActionEvent.__table__, InstanceAction.__table__
    # The newest event of that name of the request's newest action, in one read.
    newest_action = (sa.select(sa.func.max(actions.c.id))
                     .where(actions.c.instance_uuid == instance_uuid,
                            actions.c.request_id == request_id, actions.c.deleted == 0)
                     .scalar_subquery())
    query = (sa.select(events)
             .where(events.c.action_id == newest_action, events.c.event == event,
                    events.c.deleted == 0)
             .order_by(events.c.id.desc()).limit(1))
    with within(url, db) as db:
        row = db.execute(query).mappings().first()
        if row is None:
            _action_row(db, instance_uuid, request_id)  # no action at all: says so
            raise exceptions.InstanceActionNotFound(
                f"event {event} of request {request_id} on instance {instance_uuid} "
                "was never started")
        row = update_row(db, events, dict(row), {"finish_time": utcnow(), "result": result,
                                                 "traceback": traceback}, flushed=True)
        if result.lower() == "error":
            action = read_row(db, actions, "id", row["action_id"],
                              not_found=exceptions.InstanceActionNotFound(
                                  f"action {row['action_id']} is gone"))
            update_row(db, actions, action, {"message": "Error"})
    return row


def _action_row(db, instance_uuid, request_id):
    """The newest action of the request on the instance, as a dict (Core:
    every build starts and ends an event)."""
    actions = InstanceAction.__table__
    query = (sa.select(actions)
             .where(actions.c.instance_uuid == instance_uuid,
                    actions.c.request_id == request_id, actions.c.deleted == 0)
             .order_by(actions.c.id.desc()).limit(1))
    action = db.execute(query).mappings().first()
    if action is None:
        raise exceptions.InstanceActionNotFound(
            f"no action of request {request_id} on instance {instance_uuid}")
    return dict(action)
