"""Compute API microversions: which one a request asked for, and the history.

A client asks with ``OpenStack-API-Version: compute 2.53`` (or the legacy
``X-OpenStack-Nova-API-Version: 2.53``); no header means 2.1, ``latest`` the
maximum. A version outside [MIN, MAX] is refused with 406, a malformed one
with 400. Every versioned response names the version served and says that it
varies with those headers.

MAX is 2.100: the highest microversion that openstacksdk (and so the
``openstack`` client) sends by default (Server._max_microversion; hypervisors
2.88, aggregates 2.81, server groups 2.64, flavors 2.61). Each change up to
MAX that touches a served resource is honoured; the list below names them.
Versions that change only resources not served here (volume attachments
2.89, unshelve 2.91, rebuild of volume-backed servers 2.93, evacuate 2.95,
shares 2.97) change nothing: those paths are 404.

    2.2   keypairs: type (ssh, x509); create answers 201, delete 204
    2.3   servers: more OS-EXT-SRV-ATTR fields (reservation_id, hostname, user_data...)
    2.7   flavor access: adding a project to a public flavor is 409
    2.9   servers: locked
    2.10  keypairs: user_id for admins
    2.11  os-services: force-down action and forced_down field
    2.13  server groups: user_id and project_id
    2.15  server groups: soft-affinity and soft-anti-affinity
    2.16  servers: host_status (admins)
    2.17  servers: the trigger_crash_dump action
    2.19  servers: description (create, update, rebuild, views)
    2.26  servers: tags (servers/{id}/tags, the tags filters; creating with tags is refused)
    2.28  hypervisors: cpu_info is an object, not a string
    2.31  os-console-auth-tokens: the details of any console type (only RDP's before)
    2.33  hypervisors: limit and marker
    2.35  keypairs: limit and marker
    2.36  limits and quota sets: no network or security group quotas
    2.37  servers: networks required on create ("auto", "none" or a list)
    2.39  limits: no maxImageMeta
    2.41  aggregates: uuid
    2.45  createImage: image_id in the body instead of a Location header
    2.47  servers: the flavor embedded instead of linked
    2.51  instance actions: events for non-admins (no traceback)
    2.53  os-services and hypervisors: UUID ids, PUT /os-services/{id};
          hypervisors: hypervisor_hostname_pattern and with_servers
    2.54  rebuild: key_name (null removes it), shown in rebuild's answer
    2.55  flavors: description, PUT /flavors/{id}
    2.56  migrate: host
    2.57  limits and quota sets: no personality (injected file) quotas;
          rebuild: user_data (null removes it), shown in rebuild's answer
    2.58  instance actions: updated_at
    2.61  flavors: extra_specs in flavor bodies
    2.62  instance actions: events' host (admins) and hostId
    2.63  servers: trusted_image_certificates (always null)
    2.64  server groups: policy and rules instead of policies
    2.66  servers: changes-before filter
    2.69  os-services: services of an unreachable cell are listed as UNKNOWN
    2.71  servers: server_groups in show, update and rebuild
    2.73  servers: locked_reason and the locked filter
    2.75  flavors: swap is 0, not "", when unset; update and rebuild answer
          with the whole server, as GET shows it
    2.81  aggregates: image pre-caching (refused: not implemented yet)
    2.83  servers: more filters for non-admins (availability_zone, vm_state, ...)
    2.84  instance actions: event details (admins)
    2.86  flavor extra specs: keys of known namespaces are validated
    2.88  hypervisors: no resource usage fields, no statistics or uptime
          resource, uptime in show
    2.90  servers: hostname on create, update and rebuild; OS-EXT-SRV-ATTR:hostname for all
    2.92  keypairs: public_key required
    2.94  servers: hostname may be a FQDN
    2.96  servers: pinned_availability_zone
    2.98  servers: the embedded image carries its properties
    2.99  remote consoles: spice-direct (refused unless the console proxy serves it)
    2.100 servers: scheduler_hints
"""

import re

from nova_runtime.api import errors

HEADER = "OpenStack-API-Version"
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
SERVICE_TYPE = "compute"

_VERSION = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


class APIVersion:
    """A microversion, comparable with another or with a "2.53" string."""

    __slots__ = ("major", "minor")

    def __init__(self, text):
        match = _VERSION.match(text)
        if not match:
            raise errors.BadRequest(
                f"API Version String {text} is of invalid format. "
                "Must be of format MajorNum.MinorNum.")
        self.major, self.minor = int(match.group(1)), int(match.group(2))

    def _key(self, other):
        if isinstance(other, str):
            other = APIVersion(other)
        return (self.major, self.minor), (other.major, other.minor)

    def __eq__(self, other):
        mine, theirs = self._key(other)
        return mine == theirs

    def __lt__(self, other):
        mine, theirs = self._key(other)
        return mine < theirs

    def __le__(self, other):
        mine, theirs = self._key(other)
        return mine <= theirs

    def __gt__(self, other):
        mine, theirs = self._key(other)
        return mine > theirs

    def __ge__(self, other):
        mine, theirs = self._key(other)
        return mine >= theirs

    def __hash__(self):
        return hash((self.major, self.minor))

    def matches(self, minimum=None, maximum=None):
        """minimum <= self <= maximum; None leaves a side open."""
        return ((minimum is None or self >= minimum)
                and (maximum is None or self <= maximum))

    def __str__(self):
        return f"{self.major}.{self.minor}"

    def __repr__(self):
        return f"APIVersion({str(self)!r})"


MIN = APIVersion("2.1")
MAX = APIVersion("2.100")
DEFAULT = MIN


def requested(headers):
    """The version string the request asks for, or None.

    ``OpenStack-API-Version`` may list several services ("compute 2.5,
    placement 1.10") and wins over the legacy header."""
    for value in headers.getall(HEADER) if hasattr(headers, "getall") else [headers.get(HEADER)]:
        for item in (value or "").split(","):
            words = item.split()
            if len(words) == 2 and words[0].lower() == SERVICE_TYPE:
                return words[1]
    legacy = headers.get(LEGACY_HEADER)
    return legacy.strip() if legacy else None


def from_request(headers):
    """The APIVersion to serve: 400 when malformed, 406 when unsupported."""
    text = requested(headers)
    if text is None:
        return DEFAULT
    if text.lower() == "latest":
        return MAX
    version = APIVersion(text)
    if not version.matches(MIN, MAX):
        raise errors.NotAcceptable(
            f"Version {version} is not supported by the API. "
            f"Minimum is {MIN} and maximum is {MAX}.")
    return version


def add_headers(response, version):
    """Name the version served and tell caches that responses vary with it."""
    response.headers[HEADER] = f"{SERVICE_TYPE} {version}"
    response.headers[LEGACY_HEADER] = str(version)
    response.headers.add("Vary", HEADER)
    response.headers.add("Vary", LEGACY_HEADER)
