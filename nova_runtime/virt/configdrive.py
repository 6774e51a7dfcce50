"""The config drive: the metadata API's files on a disk the guest mounts.

cloud-init and other guest agents look for a file system labelled
``config-2`` holding ``openstack/<version>/meta_data.json``, ``user_data``,
``network_data.json``, ``vendor_data.json``, ``vendor_data2.json``,
``openstack/content/NNNN`` (injected files) and ``ec2/<version>/meta-data.json``
and ``user-data``. The files come from the same builder as the metadata API's
answers (nova_runtime.metadata.content); this module only lays them out
on an ISO 9660 image, with Rock Ridge and Joliet names as genisoimage -r -J
would, written by pycdlib in Python: no genisoimage on the computes.

A driver calls ``make_config_drive`` before it boots an instance for which
``required`` is true, and attaches the image as a read-only CD-ROM.
"""

import io
import os
import posixpath
import tempfile

import pycdlib

from nova_runtime.metadata import content, vendordata

LABEL = "config-2"
FILE_NAME = "disk.config"  # upstream's name in the instance's directory


def required(conf, instance):
    """Whether the instance gets a config drive: it asked for one (the API
    keeps config_drive "True"), or [DEFAULT] force_config_drive."""
    return conf.force_config_drive or str(instance.get("config_drive") or "").lower() in (
        "true", "1", "yes")


def instance_data(conf, instance, *, metadata=None, flavor=None, network_info=(),
                  admin_password=None, injected_files=()):
    """The InstanceData of a config drive from what a compute has at spawn:
    the instance record, its user metadata and flavor, its network info
    (network.api.get_network_info), the admin password and injected files
    ([(path, bytes or str)]) of the build request. Key pairs come from the
    instance's key_name/key_data, vendor data from this host's nova.conf."""
    files = [(path, body.encode() if isinstance(body, str) else bytes(body))
             for path, body in injected_files or ()]
    return content.InstanceData(
        instance=instance, metadata=dict(metadata or {}), flavor=flavor,
        network_info=list(network_info or ()), keypairs=content.keypairs_of(instance),
        vendor_data=vendordata.load(conf), admin_password=admin_password, files=files)


def make_config_drive(conf, path, instance, **facts):
    """Write the config drive of ``instance`` to ``path`` (an ISO 9660 image
    labelled config-2) and return ``path``. ``facts``: as ``instance_data``
    takes them."""
    data = instance_data(conf, instance, **facts)
    tree = content.MetadataContent(data, dhcp_domain=conf.api.dhcp_domain)
    write_iso(path, tree.config_drive_files(conf.api.config_drive_skip_versions))
    return path


def write_iso(path, files, label=LABEL):
    """An ISO 9660 image at ``path`` with ``files`` ((relative path, bytes)),
    written to a temporary file first so that a half-written image never has
    the final name."""
    iso = pycdlib.PyCdlib()
    # Level 4 keeps the names as they are (lowercase, several dots); Rock Ridge
    # and Joliet carry them too, for guests that read either.
    iso.new(interchange_level=4, rock_ridge="1.09", joliet=3, vol_ident=label,
            sys_ident="LINUX", pub_ident_str="nova_runtime")
    made = set()
    try:
        for relative, body in files:
            _add_directories(iso, posixpath.dirname(relative), made)
            iso_path = "/" + relative
            iso.add_fp(io.BytesIO(body), len(body), iso_path,
                       rr_name=posixpath.basename(relative), joliet_path=iso_path)
        directory = os.path.dirname(os.path.abspath(path))
        handle, temporary = tempfile.mkstemp(prefix=".config-drive-", dir=directory)
        os.close(handle)
        try:
            iso.write(temporary)
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    finally:
        iso.close()


def _add_directories(iso, directory, made):
    parts = [part for part in directory.split("/") if part]
    for depth in range(1, len(parts) + 1):
        iso_path = "/" + "/".join(parts[:depth])
        if iso_path not in made:
            iso.add_directory(iso_path, rr_name=parts[depth - 1], joliet_path=iso_path)
            made.add(iso_path)
