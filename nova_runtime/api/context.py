"""The API's request context: who is asking, and the policy check on their behalf.

Built from the headers that keystonemiddleware's auth_token sets (X-User-Id,
X-Project-Id, X-Roles, ...) and handed to every handler as ``req.context``.
It is the project-wide nova_runtime.context.RequestContext plus the policy
enforcer, so that what servers hand to RPC later is the same object (the
enforcer does not travel: to_dict leaves it out).
"""

from nova_runtime import context as nova_context
from nova_runtime.api import errors


class RequestContext(nova_context.RequestContext):
    def __init__(self, *, enforcer=None, service_catalog=None, remote_address=None, **kwargs):
        if enforcer is not None:
            # is_admin means the 'context_is_admin' rule passes (upstream's meaning),
            # checked when first read (oslo.context's None): most requests of a
            # project's own servers never ask.
            kwargs.setdefault("is_admin", None)
        super().__init__(**kwargs)
        self.enforcer = enforcer
        self.remote_address = remote_address
        self.service_catalog = service_catalog or []

    def check_is_admin(self):
        if self.enforcer is None:
            return False
        return self.enforcer.check_is_admin(self)

    @classmethod
    def from_request(cls, req, enforcer, use_forwarded_for=False):
        environ = req.environ
        remote = req.remote_addr
        if use_forwarded_for:
            remote = req.headers.get("X-Forwarded-For", remote)
        catalog = environ.get("keystone.token_info", {}).get("token", {}).get("catalog", [])
        return cls.from_environ(
            environ, enforcer=enforcer, service_catalog=catalog, remote_address=remote)

    def can(self, action, target=None, fatal=True):
        """Check ``action`` against policy; target defaults to the caller's own
        project and user. Raises Forbidden (403) unless fatal is False."""
        if target is None:
            target = {"project_id": self.project_id, "user_id": self.user_id}
        allowed = self.enforcer.authorize(action, target, self)
        if not allowed and fatal:
            raise errors.Forbidden(f"Policy doesn't allow {action} to be performed.")
        return allowed
