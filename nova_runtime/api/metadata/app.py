"""The metadata API's WSGI application (nova-api serves it on [DEFAULT]
metadata_listen:metadata_listen_port).

No Keystone token here: a guest knows none. The instance is identified by
where the request comes from (lookup.Finder), and learns only about itself.

    GET /                                -> EC2 versions (no instance needed)
    GET /openstack[/<version>[/<file>]]  -> the OpenStack tree (content.py)
    GET /<ec2 version>/meta-data/...     -> the EC2 tree
    GET /<ec2 version>/user-data
    GET, POST /openstack/<version>/password -> the guest's encrypted password (password.py)

Statuses, as upstream's: 400 a header is missing, 403 a bad signature, 404 no
such instance or path, 405 a method other than GET or HEAD, 500 a database
that does not answer.
"""

import logging

import webob
import webob.dec

from nova_runtime.api.metadata import lookup, password
from nova_runtime.metadata import content, signature
from nova_runtime import cells

LOG = logging.getLogger(__name__)


class _Refused(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class MetadataApp:
    def __init__(self, conf, dbs=None):
        self.conf = conf
        self.finder = lookup.Finder(conf, dbs or cells.Databases(conf.api_database.connection))
        if conf.neutron.service_metadata_proxy and not conf.neutron.metadata_proxy_shared_secret:
            LOG.warning("[neutron] service_metadata_proxy is true but "
                        "metadata_proxy_shared_secret is empty: anyone who can reach the "
                        "metadata API can sign instance ids")

    @webob.dec.wsgify
    def __call__(self, req):
        try:
            response = self._answer(req)
        except _Refused as exc:
            response = _text(exc.status, str(exc))
        except cells.DOWN_ERRORS as exc:
            LOG.error("Metadata request %s failed: a database does not answer: %s", req.path, exc)
            response = _text(500, "The metadata service cannot reach its databases.")
        LOG.info("%s %s %s -> %s", req.remote_addr, req.method, req.path_qs, response.status_int)
        return response

    def _answer(self, req):
        if content.is_password_path(req.path_info or "/"):
            data, _ = self._instance(req)
            try:
                return password.answer(req, self.finder.dbs.api_url, data.instance["uuid"])
            except password.Refused as exc:
                raise _Refused(exc.status, str(exc)) from None
        if req.method not in ("GET", "HEAD"):
            response = _text(405, f"{req.method} is not allowed here")
            response.allow = ("GET", "HEAD")
            return response
        path = req.path_info or "/"
        if path.strip("/") == "":
            body, mimetype = content.MetadataContent.versions()
            return _body(body, mimetype)
        data, address = self._instance(req)
        tree = content.MetadataContent(data, dhcp_domain=self.conf.api.dhcp_domain,
                                       request_address=address, password_service=True)
        try:
            body, mimetype = tree.lookup(path)
        except content.PathNotFound:
            raise _Refused(404, f"{path} is not a metadata path") from None
        return _body(body, mimetype)

    def _instance(self, req):
        """(InstanceData, the instance's address) of the instance asking."""
        if self.conf.neutron.service_metadata_proxy:
            return self._by_signed_headers(req), None
        if req.headers.get("X-Instance-ID"):
            LOG.warning("X-Instance-ID in the request from %s is ignored: [neutron] "
                        "service_metadata_proxy is false", req.remote_addr)
        address = req.remote_addr
        if self.conf.api.use_forwarded_for and req.headers.get("X-Forwarded-For"):
            address = req.headers["X-Forwarded-For"].split(",")[0].strip()
        if not address:
            raise _Refused(400, "X-Forwarded-For is missing from request.")
        data = self.finder.by_address(address)
        if data is None:
            LOG.warning("Metadata request from %s: no instance has this fixed address", address)
            raise _Refused(404, f"No instance has the fixed address {address}.")
        return data, address

    def _by_signed_headers(self, req):
        instance_id = req.headers.get("X-Instance-ID")
        tenant_id = req.headers.get("X-Tenant-ID")
        given_signature = req.headers.get("X-Instance-ID-Signature")
        for name, value in (("X-Instance-ID", instance_id), ("X-Tenant-ID", tenant_id),
                            ("X-Instance-ID-Signature", given_signature)):
            if not value:
                raise _Refused(400, f"{name} header is missing from request.")
        if not signature.matches(self.conf.neutron.metadata_proxy_shared_secret,
                                 instance_id, given_signature):
            LOG.warning("X-Instance-ID-Signature for instance %s from %s does not match",
                        instance_id, req.remote_addr)
            raise _Refused(403, "Invalid proxy request signature.")
        data = self.finder.by_instance_id(instance_id)
        if data is None:
            raise _Refused(404, f"Instance {instance_id} could not be found.")
        if data.instance.get("project_id") != tenant_id:
            LOG.warning("Tenant %s does not own instance %s", tenant_id, instance_id)
            raise _Refused(404, f"Instance {instance_id} could not be found.")
        return data


def build(conf, dbs=None):
    return MetadataApp(conf, dbs)


def _body(body, mimetype):
    response = webob.Response(status=200, content_type=mimetype)
    if mimetype.startswith("text/") or mimetype == content.MIME_JSON:
        response.charset = "UTF-8"
    response.body = body
    return response


def _text(status, message):
    response = webob.Response(status=status, content_type=content.MIME_TEXT, charset="UTF-8")
    response.text = message + "\n"
    return response
