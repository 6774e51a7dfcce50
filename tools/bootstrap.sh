#!/usr/bin/env bash
# Installs what nova_runtime, its toolkit and its tests need on a fresh Debian 12
# machine: Debian packages (the controller's services, sshd and iproute2 for the
# namespace lab, libvirt and QEMU) and a virtualenv at .venv with nova_runtime
# (editable), Ansible and Molecule. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
    mariadb-server mariadb-client rabbitmq-server memcached   # the controller's services
    python3-venv python3-pymysql python3-apt                  # what the roles use on targets
    python3-pip python3-dev build-essential                   # wheels built on the deploy host (uwsgi)
    openssh-server iproute2 util-linux                        # the namespace lab
    supervisor                                                # runs the daemons without systemd
    qemu-utils cpio fdisk dosfstools mtools                   # the guest image (roles/guest_image)
    libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-system libvirt-clients
    qemu-system-x86 libvirt-dev pkg-config                    # the libvirt driver
    dnsmasq-base dnsmasq-utils iptables busybox-static sudo   # the flat network (FlatDHCPManager; root_helper sudo)
    novnc                                                     # the web client nova-novncproxy serves
)

missing=()
for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]}"
    apt-get update -qq
    # policy-rc.d keeps packages from starting their services: the roles and
    # the tests start what they need.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Debian's interpreter, the one the deployed services run on (another python3
# first on PATH may be built differently, and slower).
if [ ! -x .venv/bin/python ]; then
    /usr/bin/python3 -m venv .venv
fi
# Reinstall only when the dependencies or their versions changed; the versions
# are those of constraints.txt (tools/constraints.py).
stamp=.venv/.installed-$(cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)
if [ ! -e "$stamp" ]; then
    echo "bootstrap: installing nova_runtime, Ansible and Molecule into .venv"
    .venv/bin/pip install -q -c constraints.txt --upgrade pip
    .venv/bin/pip install -q -c constraints.txt -e '.[test,deploy]'
    rm -f .venv/.installed-*
    touch "$stamp"
fi
