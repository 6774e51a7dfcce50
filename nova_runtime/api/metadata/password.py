"""openstack/<version>/password of the metadata service (from 2013-04-04):
the guest posts its password, encrypted with its key pair's public key,
once; GET reads it back; the Compute API's os-server-password shows and
clears it (objects.server_passwords).

POST: 409 when a password is stored already, 400 when the body is over
server_passwords.MAX_SIZE bytes (or not UTF-8); other methods than GET,
HEAD and POST are 405.
"""

import webob

from nova_runtime.objects import exceptions, instance_mappings, server_passwords

ALLOWED = ("GET", "HEAD", "POST")


class Refused(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def answer(req, api_url, instance_uuid):
    """The response to ``req`` on the password path of ``instance_uuid``."""
    if req.method not in ALLOWED:
        response = webob.Response(status=405)
        response.allow = ALLOWED
        return response
    url = _cell_url(api_url, instance_uuid)
    try:
        if req.method != "POST":
            response = webob.Response(status=200, content_type="text/plain", charset="UTF-8")
            response.text = server_passwords.get(url, instance_uuid)
            return response
        if server_passwords.get(url, instance_uuid):  # before the size, as upstream
            raise server_passwords.PasswordAlreadySet(instance_uuid)
        if (req.content_length or 0) > server_passwords.MAX_SIZE or \
                len(req.body) > server_passwords.MAX_SIZE:
            raise Refused(400, "Request is too large.")
        try:
            password = req.body.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(400, "The password must be UTF-8 text.") from None
        server_passwords.set_once(url, instance_uuid, password)
    except server_passwords.PasswordAlreadySet:
        raise Refused(409, "The password is set already.") from None
    except exceptions.InstanceNotFound:
        raise Refused(404, f"Instance {instance_uuid} could not be found.") from None
    return webob.Response(status=200, content_type="text/plain", charset="UTF-8")


def _cell_url(api_url, instance_uuid):
    try:
        mapping = instance_mappings.get(api_url, instance_uuid)
    except exceptions.InstanceMappingNotFound:
        mapping = None
    if mapping is None or mapping["cell"] is None:
        raise Refused(404, f"Instance {instance_uuid} could not be found.")
    return mapping["cell"].database_connection
