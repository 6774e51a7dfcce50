"""Version discovery: GET / lists the API versions, GET /v2 and /v2.1 describe one.

Unauthenticated, in upstream's shape, so that keystoneauth and openstacksdk
find min_version and version (the maximum microversion) here. Upstream lists
v2.0 (the legacy compatibility endpoint at /v2, SUPPORTED, no microversions)
before v2.1 (CURRENT), sorted by id.
"""

import webob.dec

from nova_runtime.api import errors, microversion, util

VERSIONS = {
    "v2.0": {
        "id": "v2.0",
        "status": "SUPPORTED",
        "version": "",
        "min_version": "",
        "updated": "2011-01-21T11:33:21Z",
        "path": "v2",
        "media-type": "application/vnd.openstack.compute+json;version=2",
    },
    "v2.1": {
        "id": "v2.1",
        "status": "CURRENT",
        "version": str(microversion.MAX),
        "min_version": str(microversion.MIN),
        "updated": "2013-07-23T11:33:21Z",
        "path": "v2.1",
        "media-type": "application/vnd.openstack.compute+json;version=2.1",
    },
}
# The version each mount point describes.
BY_PATH = {f"/{version['path']}": version for version in VERSIONS.values()}
_LISTED = ("id", "status", "version", "min_version", "updated")


@webob.dec.wsgify(RequestClass=util.Request)
def application(req):
    base = req.environ.get("nova.root_url", req.host_url).rstrip("/")
    if req.method not in ("GET", "HEAD"):
        raise errors.MethodNotAllowed(headers={"Allow": "GET, HEAD"})
    version = BY_PATH.get(req.path_info.rstrip("/"))
    if version is not None:
        document = {"version": {
            **{key: version[key] for key in _LISTED},
            "links": [{"rel": "self", "href": f"{base}/{version['path']}/"},
                      {"rel": "describedby", "type": "text/html",
                       "href": "http://docs.openstack.org/"}],
            "media-types": [{"base": "application/json", "type": version["media-type"]}],
        }}
    else:
        document = {"versions": [
            {**{key: version[key] for key in _LISTED},
             "links": [{"rel": "self", "href": f"{base}/{version['path']}/"}]}
            for _, version in sorted(VERSIONS.items())]}
    return util.json_response(document)
