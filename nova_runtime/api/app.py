"""The Compute API v2.1 WSGI application, built in one place.

``build(conf)`` returns the whole stack for a loaded ConfigOpts; nova-api
(nova_runtime/cmd/api.py) and the uwsgi/gunicorn entry point
(nova_runtime/api/wsgi.py) both call it.
"""

import gc

from keystonemiddleware import auth_token

from nova_runtime import cells, rpc
from nova_runtime.api import middleware, policy, router, routes, versions


def build(conf, dbs=None):
    dbs = dbs or cells.Databases(conf.api_database.connection)
    # Casts to the super-conductor go to nova's exchange, as the daemons listen on it.
    rpc.set_defaults(conf)

    # Innermost: the route table, behind the request context and authentication.
    api = router.Router(routes.ROUTES, conf, dbs)
    api = middleware.Context(api, policy.Enforcer(conf),
                             use_forwarded_for=conf.api.use_forwarded_for)
    api = _authentication(conf, api)

    # Order, from the outside in (each wraps everything below it):
    #  1. RequestId: first, so that every log line and every response,
    #     errors included, carries x-openstack-request-id.
    #  2. RequestLog: one line per request with its final status, so it
    #     sits outside the fault wrapper and sees the fault responses.
    #  3. FaultWrapper: any exception below becomes Nova's JSON fault.
    #  4. BodySizeLimit: refuse oversized bodies before authentication spends
    #     a Keystone round trip on them.
    #  5. VersionedPaths: /, /v2 and /v2.1 (version discovery) need no token;
    #     /v2.1/... goes through auth_token, Context and the Router, and so
    #     does /v2/... (the legacy v2.0 endpoint) at the base microversion.
    app = middleware.VersionedPaths(versions.application, api)
    app = middleware.BodySizeLimit(app, conf.wsgi.max_request_body_size)
    app = middleware.FaultWrapper(app)
    app = middleware.RequestLog(app)
    app = middleware.RequestId(app)
    return app


def _authentication(conf, application):
    if conf.api.auth_strategy == "noauth2":
        return middleware.NoAuth(application)
    # auth_token reads [keystone_authtoken] from our ConfigOpts (memcached
    # token cache when memcached_servers is set).
    return auth_token.AuthProtocol(application, {"oslo_config_config": conf})


def freeze_startup_heap():
    """Move what start-up allocated (libraries, the apps: ~185,000 objects)
    out of the garbage collector's reach. A page of 1,000 servers makes tens
    of thousands of objects, enough to trigger full collections that would
    walk that heap on nearly every request (bench/api.py: -15 to -20 % CPU)."""
    gc.collect()
    gc.freeze()
