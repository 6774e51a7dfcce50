#!/bin/sh
# Builds the small guest image from Debian's packages, nothing else:
#   linux-image-cloud-amd64's kernel, busybox-static, dropbear-bin (and the
#   libraries it links), syslinux (boot loader, installed on a FAT partition).
# The root file system is the initramfs; the disk holds only the kernel, the
# initramfs and the boot loader.
#
#   build-guest-image.sh fingerprint          print the fingerprint of the inputs
#   build-guest-image.sh build IMAGE.qcow2    build the image (atomically)
#
# The fingerprint is the sha256 of the exact .deb files apt would fetch (their
# names, versions and SHA256 from the package index) and of every file beside
# this script (this script, the guest's init, its DHCP script, its JSON
# reader): the same package versions and the same scripts give the same
# fingerprint, so a caller that names the image by it builds it once.
#
# Environment: GUEST_IMAGE_DEBS, where the .deb files are kept between builds
# (default /var/cache/nova-guest-image/debs).
# Needs on the build host: apt-get, dpkg-deb, cpio, gzip, sfdisk (fdisk),
# mkfs.fat (dosfstools), mcopy (mtools, used by syslinux), qemu-img (qemu-utils).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
debs=${GUEST_IMAGE_DEBS:-/var/cache/nova-guest-image/debs}

# Kernel modules the guest loads (with their dependencies): the virtio NIC and
# disks, the IDE or virtio-scsi CD-ROM that carries a config drive (iso9660,
# or vfat when a deployment makes it FAT), and the ACPI power button so that a
# clean shutdown request is honoured. (The cloud kernel has no AHCI driver: a
# config drive on SATA, q35's default, is not seen.)
MODULES="virtio_pci virtio_net virtio_blk virtio_scsi ata_piix sr_mod isofs vfat nls_cp437 nls_ascii button evdev"
# The kernel's command line: the serial console last, so /dev/console (and so
# the init's status line) is ttyS0; no IPv6, so the guest sends nothing
# but DHCP and the metadata request on its own.
CMDLINE="console=tty0 console=ttyS0,115200 ipv6.disable=1 panic=10"
DISK_MB=48

usage() {
    echo "usage: $0 fingerprint | build IMAGE.qcow2" >&2
    exit 2
}

APT_DEPENDS="apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances"

# The packages of the image: the versioned kernel package the cloud
# metapackage points at, busybox, the boot loader, and dropbear with the
# closure of its dependencies (its shared libraries; ldd checks them below).
packages() {
    kernel=$($APT_DEPENDS linux-image-cloud-amd64 | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
    [ -n "$kernel" ] || { echo "linux-image-cloud-amd64 depends on no linux-image-*" >&2; exit 1; }
    # --recurse lists every package of the closure on a line of its own.
    echo "$kernel" busybox-static syslinux syslinux-common \
        $($APT_DEPENDS --recurse dropbear-bin | grep -v '^[ <]')
}

# "package version sha256" of each package, as the configured mirrors offer it
# (the candidate version: what apt-get download fetches).
deb_list() {
    names=$(packages)
    # shellcheck disable=SC2086
    list=$(apt-cache show --no-all-versions $names \
        | awk '/^Package:/ {p = $2} /^Version:/ {v = $2} /^SHA256:/ {print p, v, $2}' | sort -u)
    if [ "$(echo "$list" | wc -l)" -ne "$(echo $names | wc -w)" ]; then
        echo "apt knows not exactly one candidate of each of: $names (run apt-get update?)" >&2
        exit 1
    fi
    echo "$list"
}

fingerprint() {
    debs_now=$(deb_list)
    {
        echo "$debs_now"
        for file in "$here"/*; do sha256sum < "$file"; done
    } | sha256sum | cut -c1-16
}

# The cache keeps each .deb under its sha256: fetch the missing ones (apt
# checks them against the index) and file them by their hash.
download() {
    mkdir -p "$debs"
    fetch=$(mktemp -d "$debs/fetch.XXXXXX")
    missing=""
    while read -r package version hash; do
        [ -s "$debs/$hash.deb" ] || missing="$missing $package=$version"
    done < "$1"
    # shellcheck disable=SC2086
    [ -z "$missing" ] || (cd "$fetch" && apt-get download -qq $missing 2>&1 | grep -v unsandboxed >&2 || true)
    for file in "$fetch"/*.deb; do
        [ -e "$file" ] && mv "$file" "$debs/$(sha256sum < "$file" | cut -d' ' -f1).deb"
    done
    rmdir "$fetch"
    while read -r package version hash; do
        [ -s "$debs/$hash.deb" ] || { echo "could not fetch $package $version" >&2; exit 1; }
    done < "$1"
}

build() {
    out=$1
    work=$(mktemp -d "${TMPDIR:-/tmp}/guest-image.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    debs_now=$(deb_list)
    echo "$debs_now" > "$work/debs.txt"
    download "$work/debs.txt"

    pkgs="$work/pkgs"
    mkdir "$pkgs"
    while read -r package version hash; do
        dpkg-deb -x "$debs/$hash.deb" "$pkgs"
    done < "$work/debs.txt"
    kver=$(cd "$pkgs/lib/modules" && ls)
    busybox="$pkgs/bin/busybox"

    make_initramfs "$work/initramfs" "$work/initrd.gz"
    make_disk "$work/disk.raw" "$pkgs/boot/vmlinuz-$kver" "$work/initrd.gz"

    mkdir -p "$(dirname "$out")"
    qemu-img convert -q -f raw -O qcow2 "$work/disk.raw" "$out.tmp"
    mv "$out.tmp" "$out"
    echo "built $out ($(du -k "$out" | cut -f1) KiB)"
}

make_initramfs() {
    root=$1
    mkdir -p "$root"
    (cd "$root" && mkdir -p bin sbin usr/bin usr/sbin etc/dropbear etc/init.d proc sys dev run tmp var/log \
        root etc/udhcpc "lib/modules/$kver")
    chmod 700 "$root/root"
    chmod 1777 "$root/tmp"

    # busybox, and a link for each of its applets where it would install it.
    cp "$busybox" "$root/bin/busybox"
    "$busybox" --list-full | while read -r applet; do
        [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
    done
    # The kernel runs /init: busybox init (it reaps orphans, runs inittab).
    ln -s /bin/busybox "$root/init"

    # dropbear and dropbearkey with the libraries they link, resolved inside
    # the extracted packages by their own loader (not the build host's).
    cp "$pkgs/usr/sbin/dropbear" "$root/usr/sbin/"
    cp "$pkgs/usr/bin/dropbearkey" "$root/usr/bin/"
    loader=/lib64/ld-linux-x86-64.so.2
    libpath="$pkgs/lib/x86_64-linux-gnu:$pkgs/usr/lib/x86_64-linux-gnu"
    for binary in "$root/usr/sbin/dropbear" "$root/usr/bin/dropbearkey"; do
        "$pkgs$loader" --library-path "$libpath" --list "$binary"
    done | awk '/=>/ && $1 !~ /^\// {print $1, $3}' | sort -u | while read -r name path; do
        case "$path" in "$pkgs"/*) ;; *)
            echo "$name is not in the packages (found: $path)" >&2; exit 1 ;;
        esac
        mkdir -p "$root/lib/x86_64-linux-gnu"
        cp -L "$path" "$root/lib/x86_64-linux-gnu/$name"
    done
    mkdir -p "$root/lib64"
    cp -L "$pkgs$loader" "$root$loader"

    # The modules and what they depend on, from a modules.dep that busybox
    # depmod writes for the extracted kernel; busybox modprobe reads the one
    # written again for the initramfs.
    "$busybox" depmod -b "$pkgs" "$kver"
    for module in $MODULES; do
        line=$(grep -E "/$module\.ko:" "$pkgs/lib/modules/$kver/modules.dep") || {
            echo "module $module is not in $kver" >&2; exit 1; }
        for file in $(echo "$line" | tr -d ':'); do
            mkdir -p "$root/lib/modules/$kver/$(dirname "$file")"
            cp "$pkgs/lib/modules/$kver/$file" "$root/lib/modules/$kver/$file"
        done
    done
    cp "$pkgs/lib/modules/$kver/modules.builtin" "$root/lib/modules/$kver/"
    "$busybox" depmod -b "$root" "$kver"
    echo "$MODULES" > "$root/etc/modules"

    # The guest's own files: its init (run by busybox init), its DHCP script and
    # its JSON reader.
    install -m 755 "$here/guest-init.sh" "$root/etc/init.d/rcS"
    install -m 755 "$here/udhcpc.script" "$root/etc/udhcpc/default.script"
    install -D -m 644 "$here/json-flatten.awk" "$root/usr/lib/nova-guest/json-flatten.awk"
    cat > "$root/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
EOF
    # root may log in with a key only ("*": no password matches).
    echo 'root:*:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
    echo 'root:x:0:' > "$root/etc/group"
    echo '/bin/sh' > "$root/etc/shells"
    echo 'nova-guest' > "$root/etc/hostname"
    # ACPI power button -> poweroff (busybox acpid's map: event -> action).
    mkdir -p "$root/etc/acpi/PWRF"
    printf '#!/bin/sh\nexec /sbin/poweroff\n' > "$root/etc/acpi/PWRF/00000080"
    chmod 755 "$root/etc/acpi/PWRF/00000080"

    # Same files, same bytes: fixed times, sorted names, owner root.
    find "$root" -exec touch -h -d @0 {} +
    (cd "$root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) \
        | gzip -9n > "$2"
}

# A raw disk: an MBR (syslinux's boot code) and one bootable FAT partition
# from 1 MiB with the kernel, the initramfs, syslinux.cfg and ldlinux.sys.
# syslinux writes into the file through mtools: nothing is mounted.
make_disk() {
    disk=$1
    rm -f "$disk"
    truncate -s "${DISK_MB}M" "$disk"
    echo 'start=2048, type=6, bootable' | sfdisk -q "$disk"
    offset=$((2048 * 512))
    mkfs.fat -F 16 -n NOVA-GUEST --offset 2048 "$disk" $(((DISK_MB - 1) * 1024)) >/dev/null
    cat > "$work/syslinux.cfg" <<EOF
DEFAULT guest
PROMPT 0
TIMEOUT 0
LABEL guest
  LINUX /vmlinuz
  INITRD /initrd.gz
  APPEND $CMDLINE
EOF
    cp "$2" "$work/vmlinuz"
    MTOOLS_SKIP_CHECK=1 mcopy -i "$disk@@$offset" "$work/vmlinuz" "$3" "$work/syslinux.cfg" ::/
    "$pkgs/usr/bin/syslinux" --offset "$offset" --install "$disk"
    dd if="$pkgs/usr/lib/syslinux/mbr/mbr.bin" of="$disk" bs=440 count=1 conv=notrunc status=none
}

case "${1:-}" in
    fingerprint) [ $# -eq 1 ] || usage; fingerprint ;;
    build) [ $# -eq 2 ] || usage; build "$2" ;;
    *) usage ;;
esac
