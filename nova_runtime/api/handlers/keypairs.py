"""/os-keypairs: a user's key pairs; admins reach other users' from 2.10."""

from nova_runtime.api import crypto, errors, util, validation
from nova_runtime.objects import quotas
from nova_runtime.objects import keypairs
from nova_runtime.api.schemas import keypairs as schemas
from nova_runtime.policies import keypairs as policies


def _view(req, keypair, full=False):
    body = {"name": keypair["name"], "public_key": keypair["public_key"],
            "fingerprint": keypair["fingerprint"]}
    if req.version >= "2.2":
        body["type"] = keypair["type"]
    if full:
        body.update({
            "user_id": keypair["user_id"],
            "id": keypair["id"],
            "created_at": util.timestamp(keypair["created_at"]),
            "updated_at": util.timestamp(keypair["updated_at"]),
            "deleted": False,
            "deleted_at": None,
        })
    return body


def _user_id(req):
    """The user whose key pairs are meant: ?user_id= from 2.10, else the caller."""
    if req.version >= "2.10" and req.GET.get("user_id"):
        return req.GET["user_id"]
    return req.context.user_id


def index(req):
    user_id = _user_id(req)
    req.context.can(policies.ROOT % "index", target={"user_id": user_id})
    rows = keypairs.list_keypairs(req.db.api_url, user_id)
    paged = req.version >= "2.35"
    if paged:
        limit, marker = util.limit_and_marker(req)
        rows = util.page(rows, lambda k: k["name"], limit, marker,
                         f"Keypair {marker} not found for user {user_id}")
    body = {"keypairs": [{"keypair": _view(req, row)} for row in rows]}
    if paged and rows and len(rows) == limit:
        body["keypairs_links"] = util.next_link(req, "os-keypairs", rows[-1]["name"])
    return util.json_response(body)


def show(req, keypair_name):
    user_id = _user_id(req)
    req.context.can(policies.ROOT % "show", target={"user_id": user_id})
    keypair = keypairs.get(req.db.api_url, user_id, keypair_name)
    return util.json_response({"keypair": _view(req, keypair, full=True)})


def create(req):
    data = validation.body(req, schemas.create_schema(req.version))["keypair"]
    user_id = data.get("user_id") or req.context.user_id
    req.context.can(policies.ROOT % "create", target={"user_id": user_id})
    key_type = data.get("type", "ssh")
    limit = quotas.limit_for(req.db.api_url, req.conf, req.context.project_id, "key_pairs",
                             user_id=user_id)
    if limit >= 0 and keypairs.count(req.db.api_url, user_id) >= limit:
        raise errors.QuotaExceeded("Quota exceeded, too many key pairs.")
    private_key = None
    public_key = data.get("public_key")
    if public_key is not None:
        fingerprint = (crypto.x509_fingerprint(public_key) if key_type == "x509"
                       else crypto.ssh_fingerprint(public_key))
    elif key_type == "x509":
        private_key, public_key, fingerprint = crypto.generate_x509(user_id)
    else:
        private_key, public_key, fingerprint = crypto.generate_ssh()
    keypair = keypairs.create(req.db.api_url, user_id=user_id, name=data["name"],
                              public_key=public_key, fingerprint=fingerprint,
                              key_type=key_type)
    body = _view(req, keypair)
    body["user_id"] = user_id
    if private_key is not None:
        body["private_key"] = private_key
    return util.json_response({"keypair": body}, status=201 if req.version >= "2.2" else 200)


def delete(req, keypair_name):
    user_id = _user_id(req)
    req.context.can(policies.ROOT % "delete", target={"user_id": user_id})
    keypairs.delete(req.db.api_url, user_id, keypair_name)
    return util.empty_response(204 if req.version >= "2.2" else 202)
