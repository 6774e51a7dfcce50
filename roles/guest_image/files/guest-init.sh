#!/bin/sh
# The guest's init (busybox init runs it once at boot, as /etc/init.d/rcS).
# It does what CirrOS does: DHCP on the first NIC; the instance's metadata from
# the metadata service, or from a config drive labelled config-2 when the
# service does not answer; the hostname; root's public keys; user_data when it
# starts with "#!"; dropbear on port 22; and one status line on the serial
# console:
#   nova-guest: ready address=A uuid=U hostname=H keys=SHA256:... source=metadata|config-drive|none
# It sends nothing but DHCP and the metadata requests: no name is resolved.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
METADATA_URL=http://169.254.169.254/openstack/latest
DATA=/run/nova-guest  # what the guest read, kept for its user

say() { echo "nova-guest: $*"; }

mount_filesystems() {
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    # The initramfs has no /dev/console, so init started without one: from
    # here on, everything this script says goes to the console (ttyS0).
    exec > /dev/console 2>&1 < /dev/null
    mkdir -p /dev/pts /dev/shm
    mount -t devpts devpts /dev/pts
    mkdir -p "$DATA" /mnt/config
}

load_modules() {
    for module in $(cat /etc/modules); do
        modprobe "$module" || say "could not load $module"
    done
}

# The first NIC: the first interface other than lo, once its driver has it.
first_nic() {
    for _ in $(seq 50); do
        for path in /sys/class/net/*; do
            [ "${path##*/}" = lo ] || { echo "${path##*/}"; return; }
        done
        sleep 0.1
    done
}

# DHCP: udhcpc stays in the background after the lease (renewals); it gives
# up after about 20 s without an answer.
dhcp() {
    ip link set "$1" up
    udhcpc -i "$1" -s /etc/udhcpc/default.script -n -t 10 -T 2 -O staticroutes -p /run/udhcpc.pid >/dev/null 2>&1 || return 1
    ip -4 -o addr show dev "$1" | awk '{ sub(/\/.*/, "", $4); print $4; exit }'
}

# A few short tries: a guest with a config drive should not wait long.
# (busybox timeout, not wget -T: Debian's static busybox 1.35 crashes on -T.)
read_metadata_service() {
    for _ in 1 2 3; do
        if timeout 5 wget -q -O "$DATA/meta_data.json" "$METADATA_URL/meta_data.json"; then
            # 404 when the server has no user_data.
            timeout 5 wget -q -O "$DATA/user_data" "$METADATA_URL/user_data" 2>/dev/null \
                || rm -f "$DATA/user_data"
            return 0
        fi
        rm -f "$DATA/meta_data.json"
        sleep 1
    done
    return 1
}

# The config drive: by its label, else any CD-ROM or disk that holds the file.
read_config_drive() {
    for device in $(findfs LABEL=config-2 2>/dev/null) /dev/sr* /dev/vd*; do
        [ -b "$device" ] || continue
        mount -o ro "$device" /mnt/config 2>/dev/null || continue
        if [ -f /mnt/config/openstack/latest/meta_data.json ]; then
            cp /mnt/config/openstack/latest/meta_data.json "$DATA/"
            [ -f /mnt/config/openstack/latest/user_data ] \
                && cp /mnt/config/openstack/latest/user_data "$DATA/"
            umount /mnt/config
            return 0
        fi
        umount /mnt/config
    done
    return 1
}

# One value of meta_data.json by its path (json-flatten.awk's lines).
meta() {
    awk -F '\t' -v key="$1" '$1 == key { print $2; exit }' "$DATA/meta_data.txt"
}

# The fingerprint of a public key line, as ssh-keygen -lf prints it: the
# unpadded base64 of the sha256 of the key blob.
fingerprint() {
    echo "$1" | awk '{ print $2 }' | base64 -d | sha256sum | cut -d' ' -f1 \
        | xxd -r -p | base64 | tr -d '=\n'
}

set_hostname() {
    # The first label, as cloud-init does (the metadata says NAME.novalocal).
    name=$(echo "$1" | sed -e 's/\..*//' -e 's/[^A-Za-z0-9-]/-/g' | cut -c1-63)
    [ -n "$name" ] || return
    hostname "$name"
    echo "$name" > /etc/hostname
    printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$name" > /etc/hosts
}

install_keys() {
    mkdir -p -m 700 /root/.ssh
    awk -F '\t' '$1 ~ /^public_keys\// { print $2 }' "$DATA/meta_data.txt" > /root/.ssh/authorized_keys
    chmod 600 /root/.ssh/authorized_keys
    keys=""
    while read -r line; do
        [ -n "$line" ] && keys="${keys:+$keys,}SHA256:$(fingerprint "$line")"
    done < /root/.ssh/authorized_keys
}

# New host keys at each boot (the root file system is the initramfs); their
# fingerprints go to the console, where a user can check them.
start_ssh() {
    for type in ed25519 ecdsa; do
        key=/etc/dropbear/dropbear_${type}_host_key
        dropbearkey -t "$type" -f "$key" >/dev/null 2>&1
        say "host key $(dropbearkey -y -f "$key" | sed -n 's/^Fingerprint: //p') ($type)"
        set -- "$@" -r "$key"
    done
    # -s: keys only, no passwords.
    dropbear -s -p 22 "$@"
}

run_user_data() {
    [ -f "$DATA/user_data" ] && [ "$(head -c 2 "$DATA/user_data")" = "#!" ] || return 0
    chmod 700 "$DATA/user_data"
    "$DATA/user_data" > "$DATA/user_data.log" 2>&1
    say "user_data exited with $? (output in $DATA/user_data.log)"
}

mount_filesystems
hostname -F /etc/hostname
ip link set lo up
load_modules
syslogd -C64
acpid

nic=$(first_nic)
address=$( [ -n "$nic" ] && dhcp "$nic" )
[ -n "$address" ] || say "no DHCP lease on ${nic:-any NIC}"

source=none
if [ -n "$address" ] && read_metadata_service; then
    source=metadata
elif read_config_drive; then
    source=config-drive
fi

uuid="" name="" keys=""
if [ "$source" != none ]; then
    awk -f /usr/lib/nova-guest/json-flatten.awk "$DATA/meta_data.json" > "$DATA/meta_data.txt"
    uuid=$(meta uuid)
    set_hostname "$(meta hostname)"
    [ "$(hostname)" != nova-guest ] || set_hostname "$(meta name)"
    install_keys
fi

start_ssh
run_user_data
say "ready address=${address:-none} uuid=${uuid:-none} hostname=$(hostname) keys=${keys:-none} source=$source"
