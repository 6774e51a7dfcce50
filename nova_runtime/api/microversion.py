"""Compute API microversions: which one a request asked for, and the history.

A client asks with ``OpenStack-API-Version: compute 2.53`` (or the legacy
``X-OpenStack-Nova-API-Version: 2.53``); no header means 2.1, ``latest`` the
maximum. A version outside [MIN, MAX] is refused with 406, a malformed one
with 400. Every versioned response names the version served and says that it
varies with those headers.

MAX is 2.88: the highest microversion that openstacksdk (and so the
``openstack`` client) sends by default for the resources served here
(Hypervisor._max_microversion; flavors 2.61, server groups 2.64, services
2.69, aggregates 2.81). Each change up to MAX that touches a served resource
is honoured; the list below names them. Raise MAX only together with the
changes of the versions it adds (2.92 for instance makes a keypair's
public_key mandatory: keypairs already honours it).

    2.2   keypairs: type (ssh, x509); create answers 201, delete 204
    2.7   flavor access: adding a project to a public flavor is 409
    2.10  keypairs: user_id for admins
    2.11  os-services: force-down action and forced_down field
    2.13  server groups: user_id and project_id
    2.15  server groups: soft-affinity and soft-anti-affinity
    2.28  hypervisors: cpu_info is an object, not a string
    2.33  hypervisors: limit and marker
    2.35  keypairs: limit and marker
    2.36  limits and quota sets: no network or security group quotas
    2.39  limits: no maxImageMeta
    2.41  aggregates: uuid
    2.53  os-services and hypervisors: UUID ids, PUT /os-services/{id};
          hypervisors: hypervisor_hostname_pattern and with_servers
    2.55  flavors: description, PUT /flavors/{id}
    2.57  limits and quota sets: no personality (injected file) quotas
    2.61  flavors: extra_specs in flavor bodies
    2.64  server groups: policy and rules instead of policies
    2.69  os-services: services of an unreachable cell are listed as UNKNOWN
    2.75  flavors: swap is 0, not "", when unset
    2.81  aggregates: image pre-caching (refused: not implemented yet)
    2.86  flavor extra specs: keys of known namespaces are validated
    2.88  hypervisors: no resource usage fields, no statistics, uptime in show
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
MAX = APIVersion("2.88")
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
