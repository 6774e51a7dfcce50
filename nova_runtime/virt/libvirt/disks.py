"""Instance disks under [DEFAULT] instances_path, made with qemu-img.

Layout (upstream Nova's)::

    INSTANCES_PATH/_base/<sha1 of image id>   the image as Glance gave it (raw or qcow2)
    INSTANCES_PATH/<uuid>/disk                root disk: qcow2 overlay on the cached image
    INSTANCES_PATH/<uuid>/disk.eph0           ephemeral disk: blank qcow2 (unformatted)
    INSTANCES_PATH/<uuid>/console.log         the serial console
    INSTANCES_PATH/<uuid>/libvirt.xml         the domain XML last defined
    INSTANCES_PATH/<uuid>_resize/             the source copy while a resize awaits confirm/revert

An image is fetched once per host (a file lock in _base serialises
concurrent builds, also across hosts sharing instances_path) and checked
before use: only raw and qcow2 without a backing file or external data file
are accepted, since a crafted qcow2 could otherwise make qemu read any host
file. Every qemu-img call opens images with -U (force share) where it only
reads, so it works while a running QEMU holds the image lock.
"""

import hashlib
import json
import os
import shutil
import subprocess

from oslo_concurrency import lockutils

GiB = 1024 ** 3
BASE_DIR = "_base"
RESIZE_SUFFIX = "_resize"
IMAGE_FORMATS = ("raw", "qcow2")
# The files of an instance that a resize or migration carries over, with their format.
MIGRATED_FILES = ("disk", "disk.eph0", "disk.config")


class DiskError(Exception):
    """A disk cannot be made or used; the message says which and why."""


class InstanceFiles:
    """Paths of one instance's files (see the module doc)."""

    def __init__(self, instances_path, uuid):
        self.dir = os.path.join(instances_path, uuid)
        self.resize_dir = self.dir + RESIZE_SUFFIX
        self.root = os.path.join(self.dir, "disk")
        self.ephemeral = os.path.join(self.dir, "disk.eph0")
        self.config_drive = os.path.join(self.dir, "disk.config")
        self.console_log = os.path.join(self.dir, "console.log")
        self.domain_xml = os.path.join(self.dir, "libvirt.xml")

    def saved_domain_xml(self):
        """The domain XML of the source copy kept in the resize directory."""
        return _read(os.path.join(self.resize_dir, "libvirt.xml"))


def qemu_img(*args):
    """Run qemu-img; its stdout, or DiskError with its message."""
    try:
        result = subprocess.run(("qemu-img",) + args, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise DiskError("qemu-img is not installed (Debian package qemu-utils)") from None
    if result.returncode != 0:
        raise DiskError(f"qemu-img {args[0]} failed: {result.stderr.strip() or result.returncode}")
    return result.stdout


def info(path):
    """qemu-img info of ``path``: format, virtual-size, actual-size, backing-filename..."""
    return json.loads(qemu_img("info", "-U", "--output=json", path))


def cached_image(instances_path, image_id, fetch, expected_format=None):
    """(path, format) of image ``image_id`` in the image cache, fetched with
    ``fetch(image_id, path)`` unless it is there already."""
    base_dir = os.path.join(instances_path, BASE_DIR)
    os.makedirs(base_dir, exist_ok=True)
    path = os.path.join(base_dir, hashlib.sha1(image_id.encode()).hexdigest())
    with lockutils.lock(f"{os.path.basename(path)}.lock", external=True, lock_path=base_dir):
        if not os.path.exists(path):
            partial = f"{path}.part"
            try:
                fetch(image_id, partial)
                fmt = _checked_format(image_id, partial, expected_format)
                os.rename(partial, path)
            finally:
                if os.path.exists(partial):
                    os.unlink(partial)
            return path, fmt
    return path, _checked_format(image_id, path, expected_format)


def _checked_format(image_id, path, expected_format):
    details = info(path)
    fmt = details.get("format")
    if fmt not in IMAGE_FORMATS:
        raise DiskError(f"image {image_id} is {fmt}; only {' and '.join(IMAGE_FORMATS)} "
                        "images can be booted")
    if expected_format in IMAGE_FORMATS and expected_format != fmt:
        raise DiskError(f"image {image_id} claims disk_format {expected_format} but is {fmt}")
    data_file = (details.get("format-specific") or {}).get("data", {}).get("data-file")
    if details.get("backing-filename") or data_file:
        raise DiskError(f"image {image_id} refers to other files (backing or data file); "
                        "such images are refused")
    return fmt


def create_root(path, base, base_format, size_gb):
    """A qcow2 overlay on ``base`` of ``size_gb`` (0: the image's own size)."""
    virtual_size = info(base)["virtual-size"]
    size = size_gb * GiB
    if size and size < virtual_size:
        raise DiskError(f"the flavor's root disk ({size_gb} GB) is smaller than the image "
                        f"({_gb(virtual_size)} GB)")
    qemu_img("create", "-q", "-f", "qcow2", "-F", base_format, "-b", base, path,
             str(max(size, virtual_size)))


def create_blank(path, size_gb):
    qemu_img("create", "-q", "-f", "qcow2", path, f"{size_gb}G")


def grow(path, size_gb):
    """Grow a disk to ``size_gb``; never shrinks (the caller refuses that)."""
    if size_gb * GiB > info(path)["virtual-size"]:
        qemu_img("resize", "-q", path, f"{size_gb}G")


def flatten_to_qcow2(source, dest):
    """A standalone qcow2 copy of ``source`` and its backing chain (a snapshot)."""
    qemu_img("convert", "-U", "-O", "qcow2", source, dest)


def overcommit_bytes(paths):
    """Bytes that the given thin disks may still grow by (for disk_available_least)."""
    total = 0
    for path in paths:
        if os.path.exists(path):
            details = info(path)
            total += max(0, details["virtual-size"] - details.get("actual-size", 0))
    return total


def copy_for_migration(files):
    """Copy the instance's migrated disks from its resize directory to its
    directory (both under instances_path): {name: format} of what was copied."""
    os.makedirs(files.dir, exist_ok=True)
    copied = {}
    for name in MIGRATED_FILES:
        source = os.path.join(files.resize_dir, name)
        if os.path.exists(source):
            shutil.copyfile(source, os.path.join(files.dir, name))
            copied[name] = info(source)["format"]
    return copied


def remove_dir(path):
    shutil.rmtree(path, ignore_errors=True)


def write(path, text):
    partial = f"{path}.part"
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, path)


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _gb(size):
    return -(-size // GiB)  # rounded up
