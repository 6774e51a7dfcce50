"""What an instance learns about itself: the one content builder behind the
metadata API and the config drive.

``InstanceData`` holds the facts (the instance record, its user metadata,
flavor, key pairs, network info, vendor data; for a config drive also the
admin password and injected files); ``MetadataContent`` turns them into
upstream's two trees:

- OpenStack: ``openstack/<version>/meta_data.json``, ``user_data``,
  ``vendor_data.json``, ``network_data.json``, ``vendor_data2.json`` for the
  dated versions below and ``latest``, each file appearing from the version
  that introduced it; ``openstack/content/NNNN`` holds injected files.
- EC2: ``<version>/meta-data/...`` (instance-id, hostname, local-ipv4,
  public-keys/0/openssh-key, placement/availability-zone, ami-id, ...) and
  ``<version>/user-data``; on a config drive ``ec2/<version>/meta-data.json``.

``lookup(path)`` answers the metadata API (a directory is a listing, one name
per line, sub-directories with a trailing "/", as EC2 does);
``config_drive_files()`` gives (path, bytes) for every file of the drive.
"""

import base64
import binascii
import dataclasses
import ipaddress
import json
import os
import posixpath
import re

MIME_TEXT = "text/plain"
MIME_JSON = "application/json"

EC2_VERSIONS = ["1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10",
                "2007-12-15", "2008-02-01", "2008-09-01", "2009-04-04"]

FOLSOM, GRIZZLY, HAVANA, LIBERTY = "2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15"
NEWTON_ONE, NEWTON_TWO, OCATA = "2016-06-30", "2016-10-06", "2017-02-22"
ROCKY, VICTORIA = "2018-08-27", "2020-10-14"
OPENSTACK_VERSIONS = [FOLSOM, GRIZZLY, HAVANA, LIBERTY, NEWTON_ONE, NEWTON_TWO, OCATA, ROCKY,
                      VICTORIA]

META_DATA, USER_DATA, NETWORK_DATA = "meta_data.json", "user_data", "network_data.json"
VENDOR_DATA, VENDOR_DATA2 = "vendor_data.json", "vendor_data2.json"
# Which file appears from which OpenStack version on.
OPENSTACK_FILES = {META_DATA: FOLSOM, USER_DATA: FOLSOM, VENDOR_DATA: HAVANA,
                   NETWORK_DATA: LIBERTY, VENDOR_DATA2: NEWTON_TWO}
CONTENT_DIR = "content"
# The metadata service's (not the config drive's) openstack/<version>/password,
# from 2013-04-04: the guest posts its encrypted password there (password.py).
PASSWORD = "password"
ROOT_DEVICE = "/dev/vda"  # the libvirt driver's first virtio disk


class PathNotFound(Exception):
    """No such metadata path (404)."""


@dataclasses.dataclass
class InstanceData:
    """The facts about one instance; see ``from_records`` for where each comes from."""

    instance: dict                     # the instances row
    metadata: dict                     # user metadata (server metadata)
    flavor: dict | None                # the instance's flavor (name, ephemeral_gb, ...)
    network_info: list                 # network.api.get_network_info
    keypairs: list                     # [{"name", "type", "data"}]
    vendor_data: dict                  # [api] vendordata_jsonfile_path's object
    admin_password: str | None = None  # config drive only: upstream shows it nowhere else
    files: list = dataclasses.field(default_factory=list)  # [(path, bytes)]: injected files


def keypairs_of(instance, api_keypair=None):
    """The instance's key pairs: the API database's record of its key (name,
    type, public key) when there is one, else what the instance was created
    with (key_name, key_data; type ssh)."""
    if api_keypair is not None:
        return [{"name": api_keypair["name"], "type": api_keypair.get("type") or "ssh",
                 "data": api_keypair["public_key"]}]
    if instance.get("key_name") and instance.get("key_data"):
        return [{"name": instance["key_name"], "type": "ssh", "data": instance["key_data"]}]
    return []


def sanitize_hostname(name):
    """A DNS label from a display name (upstream's rule: lowercase letters,
    digits and hyphens, at most 63 characters)."""
    name = re.sub(r"[ _.]", "-", (name or "").lower())
    name = re.sub(r"[^a-z0-9-]", "", name).strip("-")
    return name[:63].rstrip("-")


class MetadataContent:
    def __init__(self, data, dhcp_domain="", request_address=None, rng=os.urandom,
                 password_service=False):
        self.data = data
        self.password_service = password_service  # list openstack/<version>/password
        self.instance = data.instance
        self.dhcp_domain = dhcp_domain or ""
        self.request_address = request_address
        self._rng = rng
        self.user_data = _user_data(self.instance.get("user_data"))
        self.content = {f"{index:04d}": body for index, (_, body) in enumerate(data.files)}

    # --- the metadata API -----------------------------------------------------------

    @staticmethod
    def versions():
        """The answer to "/": the EC2 versions, which needs no instance."""
        return _listing(EC2_VERSIONS + ["latest"])

    def lookup(self, path):
        """(body as bytes, MIME type) at ``path`` (e.g. "/openstack/latest/meta_data.json",
        "/latest/meta-data/"); PathNotFound if there is none."""
        tokens = [token for token in posixpath.normpath("/" + path).split("/") if token]
        if not tokens:
            return _listing(EC2_VERSIONS + ["latest"])
        if tokens[0] == "openstack":
            return self._openstack(tokens[1:])
        if tokens[0] == "ec2":
            tokens = tokens[1:]
        return self._ec2(tokens)

    def _openstack(self, tokens):
        if not tokens:
            return _listing(OPENSTACK_VERSIONS + ["latest"])
        if tokens[0] == CONTENT_DIR:
            if len(tokens) == 2 and tokens[1] in self.content:
                return self.content[tokens[1]], "application/octet-stream"
            raise PathNotFound("/".join(tokens))
        version = _openstack_version(tokens[0])
        if len(tokens) == 1:
            names = self.openstack_files(version)
            if self.password_service and _at_least(version, GRIZZLY):
                names.insert(names.index(META_DATA) + 1, PASSWORD)
            return _listing(names)
        name = "/".join(tokens[1:])
        if name not in self.openstack_files(version):
            raise PathNotFound(name)
        if name == USER_DATA:
            return self.user_data, MIME_TEXT
        return _json(self.openstack_file(version, name)), MIME_JSON

    def _ec2(self, tokens):
        if not tokens:
            return _listing(EC2_VERSIONS + ["latest"])
        tree = {"meta-data": self.ec2_meta_data(_ec2_version(tokens[0]))}
        if self.user_data is not None:
            tree["user-data"] = self.user_data
        node = tree
        for token in tokens[1:]:
            if isinstance(node, dict) and token in node and token != "_name":
                node = node[token]
            elif isinstance(node, list) and token in node:
                node = token  # a list's items are leaves: security-groups/default
            else:
                raise PathNotFound("/".join(tokens))
        if isinstance(node, dict):
            return _ec2_listing(node)
        if isinstance(node, list):
            return _listing(node)
        return (node if isinstance(node, bytes) else str(node).encode()), MIME_TEXT

    # --- the OpenStack tree ---------------------------------------------------------

    def openstack_files(self, version):
        """The files of ``openstack/<version>/``."""
        return [name for name, since in OPENSTACK_FILES.items()
                if _at_least(version, since)
                and (name != USER_DATA or self.user_data is not None)]

    def openstack_file(self, version, name):
        """The JSON object of a file of ``openstack/<version>/``."""
        if name == META_DATA:
            return self.meta_data(version)
        if name == NETWORK_DATA:
            return network_data(self.data.network_info)
        if name == VENDOR_DATA:
            return self.data.vendor_data
        if name == VENDOR_DATA2:
            return {"static": self.data.vendor_data} if self.data.vendor_data else {}
        raise PathNotFound(name)

    def meta_data(self, version):
        instance = self.instance
        metadata = {"uuid": instance["uuid"]}
        if self.data.metadata:
            metadata["meta"] = dict(self.data.metadata)
        if self.data.files:
            metadata["files"] = [{"path": path, "content_path": f"/{CONTENT_DIR}/{key}"}
                                 for key, (path, _) in zip(self.content, self.data.files)]
        if self.data.admin_password:
            metadata["admin_pass"] = self.data.admin_password
        if self.data.keypairs:
            metadata["public_keys"] = {key["name"]: key["data"] for key in self.data.keypairs}
            metadata["keys"] = [dict(key) for key in self.data.keypairs]
        metadata["hostname"] = self.hostname()
        metadata["name"] = instance.get("display_name")
        metadata["launch_index"] = instance.get("launch_index") or 0
        metadata["availability_zone"] = instance.get("availability_zone")
        if _at_least(version, GRIZZLY):
            metadata["random_seed"] = base64.b64encode(self._rng(512)).decode()
        if _at_least(version, LIBERTY):
            metadata["project_id"] = instance.get("project_id")
        if _at_least(version, NEWTON_ONE):
            metadata["devices"] = []  # no device tagging
        if _at_least(version, VICTORIA):
            metadata["dedicated_cpus"] = []  # no CPU pinning
        return metadata

    def hostname(self):
        name = (self.instance.get("hostname")
                or sanitize_hostname(self.instance.get("display_name"))
                or f"server-{self.instance['uuid']}")
        return f"{name}.{self.dhcp_domain}" if self.dhcp_domain else name

    # --- the EC2 tree ---------------------------------------------------------------

    def ec2_meta_data(self, version):
        instance, flavor = self.instance, self.data.flavor or {}
        hostname = self.hostname()
        fixed = [vif["fixed_ip"] for vif in self.data.network_info]
        meta = {
            "ami-id": _ec2_id("ami", instance.get("image_ref")),
            "ami-launch-index": instance.get("launch_index") or 0,
            "ami-manifest-path": "FIXME",  # upstream's value: there is no S3 manifest
            "instance-id": "i-%08x" % (instance.get("id") or 0),
            "hostname": hostname,
            "local-ipv4": fixed[0] if fixed else (self.request_address or ""),
            "reservation-id": instance.get("reservation_id") or "",
            "security-groups": [],  # no security groups without Neutron
        }
        if self.data.keypairs:
            key = self.data.keypairs[0]
            meta["public-keys"] = {"0": {"_name": f"0={key['name']}", "openssh-key": key["data"]}}
        if _ec2_at_least(version, "2007-01-19"):
            meta.update({"local-hostname": hostname, "public-hostname": hostname,
                         "public-ipv4": ""})  # no floating addresses
        if _ec2_at_least(version, "2007-08-29"):
            meta["instance-type"] = flavor.get("name", "")
        if _ec2_at_least(version, "2007-12-15"):
            mapping = {"ami": ROOT_DEVICE[len("/dev/"):], "root": ROOT_DEVICE}
            if flavor.get("ephemeral_gb"):
                mapping["ephemeral0"] = "vdb"
            meta["block-device-mapping"] = mapping
            for key, prefix, column in (("kernel-id", "aki", "kernel_id"),
                                        ("ramdisk-id", "ari", "ramdisk_id")):
                if instance.get(column):
                    meta[key] = _ec2_id(prefix, instance[column])
        if _ec2_at_least(version, "2008-02-01"):
            meta["placement"] = {"availability-zone": instance.get("availability_zone") or ""}
        if _ec2_at_least(version, "2008-09-01"):
            meta["instance-action"] = "none"
        return meta

    # --- the config drive ------------------------------------------------------------

    def config_drive_files(self, skip_ec2_versions=()):
        """(path, bytes) of every file of a config drive, as upstream lays it out."""
        for version in EC2_VERSIONS + ["latest"]:
            if version in skip_ec2_versions and version != "latest":
                continue
            meta = self.ec2_meta_data(_ec2_version(version))
            if "public-keys" in meta:
                del meta["public-keys"]["0"]["_name"]  # a listing detail of the web tree
            yield f"ec2/{version}/meta-data.json", _json(meta)
            if self.user_data is not None:
                yield f"ec2/{version}/user-data", self.user_data
        for version in OPENSTACK_VERSIONS + ["latest"]:
            resolved = _openstack_version(version)
            for name in self.openstack_files(resolved):
                body = (self.user_data if name == USER_DATA
                        else _json(self.openstack_file(resolved, name)))
                yield f"openstack/{version}/{name}", body
        for key, body in self.content.items():
            yield f"openstack/{CONTENT_DIR}/{key}", body


def network_data(network_info):
    """network_data.json of the interfaces: links, static IPv4 networks with
    their default route, and the DNS servers (there is no DHCP server)."""
    links, networks, dns = [], [], []
    for index, vif in enumerate(network_info):
        link_id = "tap" + vif["id"][:11]  # the libvirt tap device's name, as upstream's
        links.append({"id": link_id, "vif_id": vif["id"], "type": "bridge",
                      "ethernet_mac_address": vif["address"], "mtu": None})
        services = [{"type": "dns", "address": server} for server in vif.get("dns", [])]
        network = {
            "id": f"network{index}", "type": "ipv4", "link": link_id,
            "ip_address": vif["fixed_ip"],
            "netmask": str(_netmask(vif["cidr"])),
            "routes": [], "network_id": vif.get("network_id"), "services": services,
        }
        if vif.get("gateway"):
            network["routes"].append({"network": "0.0.0.0", "netmask": "0.0.0.0",
                                      "gateway": vif["gateway"]})
        networks.append(network)
        dns.extend(service for service in services if service not in dns)
    return {"links": links, "networks": networks, "services": dns}


# --- helpers ----------------------------------------------------------------------------

def _user_data(stored):
    """The instance's user data as bytes. The API keeps it base64-encoded, as
    the create request carries it; anything else is handed over as it is."""
    if not stored:
        return None
    try:
        return base64.b64decode(stored, validate=True)
    except (binascii.Error, ValueError):
        return stored.encode() if isinstance(stored, str) else bytes(stored)


def _netmask(cidr):
    return ipaddress.ip_network(cidr, strict=False).netmask


def _json(value):
    return json.dumps(value).encode()


def _listing(names):
    return "\n".join(names).encode(), MIME_TEXT


def _ec2_listing(tree):
    """EC2's directory listing: "name/" for a sub-directory, "0=keyname" for
    public-keys' entries."""
    lines = []
    for key in sorted(tree):
        if key == "_name":
            continue
        value = tree[key]
        if isinstance(value, dict):
            lines.append(value.get("_name", f"{key}/"))
        else:
            lines.append(key)
    return "\n".join(lines).encode(), MIME_TEXT


def is_password_path(path):
    """Whether ``path`` is openstack/<version>/password of a version that has it."""
    tokens = [token for token in posixpath.normpath("/" + path).split("/") if token]
    if len(tokens) != 3 or tokens[0] != "openstack" or tokens[2] != PASSWORD:
        return False
    try:
        return _at_least(_openstack_version(tokens[1]), GRIZZLY)
    except PathNotFound:
        return False


def _openstack_version(version):
    if version == "latest":
        return OPENSTACK_VERSIONS[-1]
    if version not in OPENSTACK_VERSIONS:
        raise PathNotFound(version)
    return version


def _ec2_version(version):
    if version == "latest":
        return EC2_VERSIONS[-1]
    if version not in EC2_VERSIONS:
        raise PathNotFound(version)
    return version


def _at_least(version, since):
    return OPENSTACK_VERSIONS.index(version) >= OPENSTACK_VERSIONS.index(since)


def _ec2_at_least(version, since):
    return EC2_VERSIONS.index(version) >= EC2_VERSIONS.index(since)


def _ec2_id(prefix, image_uuid):
    """An EC2-style id for a Glance image: the prefix and the first eight hex
    digits of its UUID (upstream numbers images in a table of its own)."""
    digits = (image_uuid or "").replace("-", "")[:8]
    try:
        return f"{prefix}-{int(digits, 16):08x}"
    except ValueError:
        return f"{prefix}-00000000"
