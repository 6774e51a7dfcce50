"""The libvirt virt driver: compute_driver = libvirt.LibvirtDriver.

- driver.py: LibvirtDriver, the contract's operations in libvirt terms;
- domain.py: the domain XML from flavor, image properties and network_info;
- disks.py: the image cache and instance disks under instances_path (qemu-img);
- host.py: the libvirt connection and the host's resources.

Needs the libvirt-python binding (pyproject extra "libvirt").
"""

from nova_runtime.virt.libvirt.driver import LibvirtDriver

__all__ = ["LibvirtDriver"]
