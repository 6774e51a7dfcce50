"""Version discovery: GET / lists the API versions, GET /v2.1 describes v2.1.

Unauthenticated, in upstream's shape, so that keystoneauth and openstacksdk
find min_version and version (the maximum microversion) here.
"""

import webob.dec

from nova_runtime.api import errors, microversion, util

V21 = {
    "id": "v2.1",
    "status": "CURRENT",
    "version": str(microversion.MAX),
    "min_version": str(microversion.MIN),
    "updated": "2013-07-23T11:33:21Z",
}
MEDIA_TYPES = [{
    "base": "application/json",
    "type": "application/vnd.openstack.compute+json;version=2.1",
}]


@webob.dec.wsgify(RequestClass=util.Request)
def application(req):
    base = req.environ.get("nova.root_url", req.host_url).rstrip("/")
    if req.method not in ("GET", "HEAD"):
        raise errors.MethodNotAllowed(headers={"Allow": "GET, HEAD"})
    self_link = {"rel": "self", "href": f"{base}/v2.1/"}
    if req.path_info.rstrip("/") == "/v2.1":
        document = {"version": {
            **V21,
            "links": [self_link, {"rel": "describedby", "type": "text/html",
                                  "href": "https://docs.openstack.org/"}],
            "media-types": MEDIA_TYPES,
        }}
    else:
        document = {"versions": [{**V21, "links": [self_link]}]}
    return util.json_response(document)
