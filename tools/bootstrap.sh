#!/usr/bin/env bash
# Installs what nova_runtime, its toolkit and its tests need on a fresh Debian 12
# machine: Debian packages and a virtualenv at .venv with nova_runtime (editable)
# and Ansible, installed with uv. Safe to run again: it skips what is there.
#
#   tools/bootstrap.sh            everything the tests need too (tools/test.sh): every
#                                 package below, and .venv with the test and deploy extras
#   tools/bootstrap.sh --deploy   what deploying needs (tools/deploy.sh): .venv with the
#                                 deploy extra, and the packages the all-in-one's roles
#                                 install, in the background: site.yml starts while they
#                                 install (the roles' apt waits for apt's lock, then finds
#                                 them there); the virtualenvs of the services need none
#   tools/bootstrap.sh --finish   waits for a background installation, says how it went
#
# Each phase prints "bootstrap: PHASE took N s (from EPOCH)" (bench/deploy.py --bare reads it).
set -euo pipefail
cd "$(dirname "$0")/.."

# What Ansible needs to start, and what python_venv needs on the deploy host
# (python3 -m venv, pip wheel): installed first, without recommends, in seconds.
FIRST_PACKAGES=(python3-venv python3-pip python3-apt)
# What the all-in-one's roles install, in two apt-get calls: the controller's
# services first (the roles that need them come first), then what Glance, the
# guest image and nova-novncproxy need, while those roles run (a role checks
# with dpkg-query and waits for apt's lock only when its packages are not there).
DEPLOY_PACKAGES=(
    mariadb-server mariadb-client python3-pymysql rabbitmq-server memcached   # the controller's services
    supervisor                                                # runs the daemons without systemd
)
DEPLOY_PACKAGES_LATER=(
    qemu-utils cpio fdisk dosfstools mtools                   # Glance's imports, the guest image (roles/guest_image)
    novnc                                                     # the web client nova-novncproxy serves
)
# The rest of what the tests and the namespace lab need (tools/test.sh).
TEST_PACKAGES=(
    python3-dev build-essential                               # wheels built from source (libvirt-python)
    openssh-server iproute2 util-linux                        # the namespace lab
    libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-system libvirt-clients
    qemu-system-x86 libvirt-dev pkg-config                    # the libvirt driver
    dnsmasq-base dnsmasq-utils iptables busybox-static sudo   # the flat network (FlatDHCPManager; root_helper sudo)
)
APT_STATE=/var/log/nova-runtime-bootstrap   # the background installation's log and outcome

now() { date +%s.%N; }
took() { echo "bootstrap: $1 took $(awk -v a="$2" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s (from $2)"; }

missing() {
    local package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || echo "$package"
    done
}

# policy-rc.d keeps packages from starting their services: the roles and the
# tests start what they need. dpkg's unsafe-io skips an fsync per file: on a
# machine being set up, a crash means installing again anyway.
apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 \
        -o Dpkg::Options::=--force-unsafe-io "$@"
}

finish() {
    [ -e "$APT_STATE.pid" ] || return 0
    while [ ! -e "$APT_STATE.status" ]; do
        if ! kill -0 "$(cat "$APT_STATE.pid")" 2>/dev/null; then
            sleep 0.5  # it may have just written the status
            [ -e "$APT_STATE.status" ] || { echo "bootstrap: the background apt-get died; see $APT_STATE.log" >&2; return 1; }
        fi
        sleep 1
    done
    read -r rc started middle ended < "$APT_STATE.status"
    rm -f "$APT_STATE.pid" "$APT_STATE.status"
    if [ "$rc" != 0 ]; then
        tail -n 20 "$APT_STATE.log" >&2
        echo "bootstrap: installing the Debian packages failed (exit $rc); see $APT_STATE.log" >&2
        return 1
    fi
    echo "bootstrap: Debian packages in the background, the services' took $(awk -v a="$started" -v b="$middle" 'BEGIN { printf "%.1f", b - a }') s (from $started)"
    echo "bootstrap: Debian packages in the background, the rest took $(awk -v a="$middle" -v b="$ended" 'BEGIN { printf "%.1f", b - a }') s (from $middle)"
}

mode=${1:-}
case "$mode" in
    --finish) finish; exit ;;
    # Deploying takes no recommended packages (MariaDB's compression providers and
    # Perl modules, qemu-img's network block drivers with Ceph's and Gluster's libraries).
    --deploy) extras=deploy; packages=("${DEPLOY_PACKAGES[@]}" "${DEPLOY_PACKAGES_LATER[@]}")
              apt_options=(--no-install-recommends) ;;
    "") extras=test,deploy; packages=("${DEPLOY_PACKAGES[@]}" "${DEPLOY_PACKAGES_LATER[@]}" "${TEST_PACKAGES[@]}")
        apt_options=() ;;
    *) echo "usage: $0 [--deploy | --finish]" >&2; exit 2 ;;
esac
finish  # one left by an earlier run

mapfile -t first < <(missing "${FIRST_PACKAGES[@]}")
mapfile -t rest < <(missing "${packages[@]}")
if [ ${#first[@]} -gt 0 ] || [ ${#rest[@]} -gt 0 ]; then
    started=$(now)
    apt-get update -qq
    if [ ${#first[@]} -gt 0 ]; then
        apt_install --no-install-recommends "${first[@]}" >/dev/null
    fi
    took "apt-get update and ${FIRST_PACKAGES[*]}" "$started"
fi
if [ ${#rest[@]} -gt 0 ]; then
    echo "bootstrap: installing ${rest[*]}"
    if [ "$mode" = --deploy ]; then
        rm -f "$APT_STATE.status"
        mapfile -t later < <(missing "${DEPLOY_PACKAGES_LATER[@]}")
        mapfile -t rest < <(missing "${DEPLOY_PACKAGES[@]}")
        (
            started=$(now)
            rc=0
            if [ ${#rest[@]} -gt 0 ]; then
                apt_install "${apt_options[@]}" "${rest[@]}" || rc=$?
            fi
            middle=$(now)
            if [ "$rc" = 0 ] && [ ${#later[@]} -gt 0 ]; then
                apt_install "${apt_options[@]}" "${later[@]}" || rc=$?
            fi
            echo "$rc $started $middle $(now)" > "$APT_STATE.status.tmp"
            mv "$APT_STATE.status.tmp" "$APT_STATE.status"
        ) > "$APT_STATE.log" 2>&1 < /dev/null &
        echo $! > "$APT_STATE.pid"
        echo "bootstrap: the Debian packages install in the background (log: $APT_STATE.log)"
    else
        started=$(now)
        apt_install "${apt_options[@]}" "${rest[@]}" >/dev/null
        took "Debian packages" "$started"
    fi
fi

# Debian's interpreter, the one the deployed services run on (another python3
# first on PATH may be built differently, and slower).
if [ ! -x .venv/bin/python ]; then
    /usr/bin/python3 -m venv .venv
fi
# Reinstall only when the dependencies, their versions or the extras changed;
# the versions are those of constraints.txt (tools/constraints.py). uv installs
# (pip is the slow part: about 4 times the time); pip stays in .venv, upgraded.
stamp=.venv/.installed-$(cat pyproject.toml constraints.txt <(echo "$extras") | sha1sum | cut -c1-12)
if [ ! -e "$stamp" ]; then
    echo "bootstrap: installing nova_runtime ($extras) into .venv"
    started=$(now)
    if [ ! -x .venv/bin/uv ]; then
        .venv/bin/pip install -q --disable-pip-version-check -c constraints.txt uv
    fi
    # uv trusts the system's certificate store, as pip and apt do here.
    UV_PYTHON_DOWNLOADS=never UV_SYSTEM_CERTS=1 .venv/bin/uv pip install -q --python .venv/bin/python -c constraints.txt \
        pip uv -e ".[$extras]"
    rm -f .venv/.installed-*
    touch "$stamp"
    took "the toolkit's .venv" "$started"
fi
# Deploy the controller and its computes:
#   ansible-playbook site.yml                      # the all-in-one default (ansible.cfg)
#   ansible-playbook -i inventory/lab site.yml     # another inventory
# Adding a compute: put it in the inventory's compute group and run
#   ansible-playbook -i INVENTORY site.yml --limit NEWHOST,controller
# (only discovery touches the controller; see README).
