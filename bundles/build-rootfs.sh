#!/usr/bin/env bash
# Build a busybox root filesystem from Debian's busybox-static.
# usage: bundles/build-rootfs.sh ROOTFS_DIR
# Installs busybox-static when it is missing. Idempotent: an existing rootfs is rebuilt.
set -euo pipefail

rootfs=${1:?usage: build-rootfs.sh ROOTFS_DIR}
busybox=/bin/busybox

# ldd exits 1 on a static binary (saying "not a dynamic executable"; some say "statically
# linked"): judge by what it says, not by its exit status.
is_static() {
    local out
    out=$(LC_ALL=C ldd "$1" 2>&1 || true)
    [[ $out == *"not a dynamic executable"* || $out == *"statically linked"* ]]
}

if ! "$busybox" --list >/dev/null 2>&1 || ! is_static "$busybox"; then
    echo "build-rootfs: installing busybox-static from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends busybox-static >/dev/null; then
        apt-get -o DPkg::Lock::Timeout=600 update >/dev/null
        apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends busybox-static >/dev/null
    fi
fi

rm -rf "$rootfs"
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,home,var,run}
chmod 1777 "$rootfs/tmp"
cp "$busybox" "$rootfs/bin/busybox"
# One symlink per applet, where busybox installs it.
while read -r applet; do
    [[ -e "$rootfs$applet" || -L "$rootfs$applet" ]] && continue
    ln -s /bin/busybox "$rootfs$applet"
done < <("$rootfs/bin/busybox" --list-full | sed 's|^|/|')

cat > "$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
PASSWD
cat > "$rootfs/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
users:x:100:user
nogroup:x:65534:
user:x:1000:
GROUP
echo "rt" > "$rootfs/etc/hostname"
: > "$rootfs/etc/hosts"
: > "$rootfs/etc/resolv.conf"
echo "build-rootfs: $rootfs ($("$rootfs/bin/busybox" --list | wc -l) applets)" >&2
