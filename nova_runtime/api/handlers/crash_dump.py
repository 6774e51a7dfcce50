"""The trigger_crash_dump server action (2.17): {"trigger_crash_dump": null}.

The compute API checks the server (active, paused, rescued, resized or in
error, with no task running: 409 otherwise) and casts to its compute, whose
driver sends the guest an NMI; the answer is 202 at once. Before 2.17 there
is no such action (404, as upstream's versioned actions answer).
"""

from nova_runtime.api import errors, util, validation

SCHEMA = {
    "type": "object",
    "properties": {"trigger_crash_dump": {"type": "null"}},
    "required": ["trigger_crash_dump"],
    "additionalProperties": False,
}


def trigger_crash_dump(req, server_id, instance, body):
    if req.version < "2.17":
        raise errors.NotFound("The resource could not be found.")
    validation.body(req, SCHEMA)
    req.compute_api.trigger_crash_dump(req.context, server_id)
    return util.empty_response(202)
