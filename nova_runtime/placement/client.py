"""The Placement API over keystoneauth, from nova.conf's [placement] options.

``from_conf`` builds a keystoneauth session and adapter from [placement]
(auth_type, auth_url, username, ... , region_name, valid_interfaces): the
endpoint comes from the Keystone catalog (service type ``placement``) unless
endpoint_override names it. It returns None when [placement] has no auth_type:
then the daemons run without Placement.

Every request names its microversion (``OpenStack-API-Version: placement
1.x``), the one whose behaviour the caller relies on: never the server's
latest, which could change an answer under us.

Errors: a Placement (or Keystone) that cannot be reached, or answers 5xx, is
PlacementUnavailable; a 409 is Conflict with Placement's error code (a
generation conflict is ``placement.concurrent_update``); any other refusal is
PlacementError with Placement's own detail.
"""

import logging
import urllib.parse

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading

from nova_runtime import service
from nova_runtime.conf import placement as placement_conf

LOG = logging.getLogger(__name__)

GROUP = placement_conf.GROUP

# The microversions this client speaks, per kind of call:
PROVIDERS = "1.20"      # POST /resource_providers answers with the provider
INVENTORIES = "1.26"    # an inventory may reserve all of its total
TRAITS = "1.6"
CANDIDATES = "1.36"     # allocation requests with mappings, required=!forbidden
ALLOCATIONS = "1.36"    # consumer generations (1.28), project and user (1.8), POST (1.13)
USAGES = "1.9"

CONCURRENT_UPDATE = "placement.concurrent_update"
INVENTORY_IN_USE = "placement.inventory.inuse"


class PlacementError(Exception):
    """Placement refused a request; the message has its detail."""

    def __init__(self, message, status=None, code=None):
        super().__init__(message)
        self.status, self.code = status, code


class PlacementUnavailable(PlacementError):
    """Placement, or Keystone for its token, did not answer usefully."""


class PlacementConfigError(service.FatalError):
    """[placement] names an auth plugin but not what it needs: the daemon
    cannot start (service.main logs the message)."""


class Conflict(PlacementError):
    """409: a generation moved on (code placement.concurrent_update), no room
    left for an allocation, an inventory still in use, a duplicate name."""


def configured(conf):
    """Whether nova.conf's [placement] says how to reach Placement."""
    return bool(conf[GROUP].auth_type)


def from_conf(conf):
    """A PlacementClient for [placement], or None when it has no auth_type.
    Raises PlacementConfigError when the options do not make a client."""
    if not configured(conf):
        return None
    try:
        auth = ks_loading.load_auth_from_conf_options(conf, GROUP)
        session = ks_loading.load_session_from_conf_options(conf, GROUP, auth=auth)
        adapter = ks_loading.load_adapter_from_conf_options(conf, GROUP, session=session,
                                                            auth=auth)
    except (ks_exc.ClientException, ValueError) as exc:
        raise PlacementConfigError(f"[placement]: {exc}") from None
    return PlacementClient(adapter)


def _detail(response):
    """(code, detail) of a Placement error body."""
    try:
        error = response.json()["errors"][0]
        return error.get("code"), error.get("detail") or error.get("title") or ""
    except (ValueError, KeyError, IndexError, TypeError):
        return None, response.text[:300]


class PlacementClient:
    def __init__(self, adapter):
        self.adapter = adapter

    # --- the one way requests go -------------------------------------------------

    def request(self, method, path, version, body=None, query=None, ok=(200,)):
        """``method`` ``path`` with microversion ``version``: the response,
        whose status is in ``ok`` or 404 (the caller decides what a 404 means)."""
        if query:
            path += "?" + urllib.parse.urlencode(query, safe=",:!")
        headers = {"OpenStack-API-Version": f"placement {version}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = self.adapter.request(path, method, json=body, headers=headers,
                                            raise_exc=False)
        except ks_exc.Unauthorized as exc:
            raise PlacementUnavailable(
                f"Keystone does not accept the [placement] credentials: {exc}") from None
        except ks_exc.EndpointNotFound as exc:
            raise PlacementUnavailable(
                f"Keystone's catalog has no Placement endpoint for [placement]: {exc}") from None
        except ks_exc.ClientException as exc:
            raise PlacementUnavailable(f"Placement cannot be reached: {exc}") from None
        status = response.status_code
        if status in ok or status == 404:
            return response
        code, detail = _detail(response)
        message = f"Placement answered {status} to {method} {path}: {detail}"
        if status >= 500:
            raise PlacementUnavailable(message, status, code)
        if status == 409:
            raise Conflict(message, status, code)
        raise PlacementError(message, status, code)

    # --- resource providers ------------------------------------------------------------

    def get_provider(self, uuid):
        """The provider {uuid, name, generation, ...}, or None."""
        response = self.request("GET", f"/resource_providers/{uuid}", PROVIDERS)
        return None if response.status_code == 404 else response.json()

    def create_provider(self, uuid, name):
        """Create a root provider; Conflict when the uuid or the name is taken."""
        return self.request("POST", "/resource_providers", PROVIDERS,
                            {"uuid": uuid, "name": name}, ok=(200,)).json()

    def rename_provider(self, uuid, name):
        return self.request("PUT", f"/resource_providers/{uuid}", PROVIDERS,
                            {"name": name}).json()

    def get_inventories(self, uuid):
        """(provider generation, {resource class: inventory}); None if no provider."""
        response = self.request("GET", f"/resource_providers/{uuid}/inventories", INVENTORIES)
        if response.status_code == 404:
            return None
        body = response.json()
        return body["resource_provider_generation"], body["inventories"]

    def set_inventories(self, uuid, generation, inventories):
        """Replace every inventory of the provider; its new generation."""
        response = self.request(
            "PUT", f"/resource_providers/{uuid}/inventories", INVENTORIES,
            {"resource_provider_generation": generation, "inventories": inventories})
        self._not_found(response, uuid)
        return response.json()["resource_provider_generation"]

    def get_traits(self, uuid):
        """(provider generation, set of traits); None if no provider."""
        response = self.request("GET", f"/resource_providers/{uuid}/traits", TRAITS)
        if response.status_code == 404:
            return None
        body = response.json()
        return body["resource_provider_generation"], set(body["traits"])

    def set_traits(self, uuid, generation, traits):
        response = self.request(
            "PUT", f"/resource_providers/{uuid}/traits", TRAITS,
            {"resource_provider_generation": generation, "traits": sorted(traits)})
        self._not_found(response, uuid)
        return response.json()["resource_provider_generation"]

    def get_usages(self, uuid):
        response = self.request("GET", f"/resource_providers/{uuid}/usages", USAGES)
        self._not_found(response, uuid)
        return response.json()["usages"]

    @staticmethod
    def _not_found(response, uuid):
        if response.status_code == 404:
            raise PlacementError(f"Placement has no resource provider {uuid}", 404)

    # --- allocation candidates and allocations ------------------------------------------

    def allocation_candidates(self, query):
        """GET /allocation_candidates: {allocation_requests, provider_summaries}."""
        response = self.request("GET", "/allocation_candidates", CANDIDATES, query=query)
        if response.status_code == 404:
            raise PlacementError("Placement has no /allocation_candidates (too old?)", 404)
        return response.json()

    def get_allocations(self, consumer):
        """{allocations: {provider: {resources, generation}}, consumer_generation,
        project_id, user_id}; allocations empty for an unknown consumer."""
        return self.request("GET", f"/allocations/{consumer}", ALLOCATIONS).json()

    def put_allocations(self, consumer, allocations, project_id, user_id, consumer_generation):
        """Replace the consumer's allocations ({provider: {resources: {...}}});
        ``consumer_generation`` None for a consumer that has none yet."""
        self.request("PUT", f"/allocations/{consumer}", ALLOCATIONS, {
            "allocations": allocations, "project_id": project_id, "user_id": user_id,
            "consumer_generation": consumer_generation}, ok=(204,))

    def post_allocations(self, consumers):
        """Set the allocations of several consumers in one transaction (POST
        /allocations): ``consumers`` {consumer: {allocations, project_id,
        user_id, consumer_generation}}; empty allocations drop a consumer's.
        Either every consumer gets its allocations or none does."""
        self.request("POST", "/allocations", ALLOCATIONS, consumers, ok=(204,))

    def delete_allocations(self, consumer):
        """Drop every allocation of the consumer; False if it had none."""
        response = self.request("DELETE", f"/allocations/{consumer}", ALLOCATIONS, ok=(204,))
        return response.status_code == 204
