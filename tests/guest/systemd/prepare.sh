#!/usr/bin/env bash
# Prepare the systemd guest: everything tests/guest/prepare.sh makes (qemu, kernel, initramfs),
# plus a minimal Debian root with systemd and dbus made by debootstrap, and an initramfs
# addendum whose /sdinit boots that root with systemd as PID 1.
#
# usage: tests/guest/systemd/prepare.sh [--refresh]
#
# Cached under target/guest/: systemd-root/ (debootstrap --variant=minbase, ~250 MB, 2-5 min
# once), initramfs-systemd.cpio, systemd.env (sourced by run.sh). debootstrap is installed
# from Debian when missing. --refresh rebuilds the root. Exits non-zero, loudly, when the
# guest cannot be built.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cache=${RT_GUEST_CACHE:-$repo/target/guest}
suite=${RT_SYSTEMD_SUITE:-bookworm}
mirror=${RT_SYSTEMD_MIRROR:-http://deb.debian.org/debian}
refresh=0
for arg in "$@"; do
    case $arg in
    --refresh) refresh=1 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' && exit 0 ;;
    *) echo "prepare.sh: unknown argument: $arg" >&2 && exit 2 ;;
    esac
done
die() {
    {
        echo
        echo "################################################################################"
        echo "## rt systemd guest prepare FAILED: $*"
        echo "## The systemd cgroup driver tests cannot run on this machine."
        echo "################################################################################"
    } >&2
    exit 1
}
log() { echo "systemd/prepare.sh: $*" >&2; }

[[ $(id -u) == 0 ]] || die "must run as root (debootstrap)"
"$repo/tests/guest/prepare.sh" || die "tests/guest/prepare.sh failed (qemu, kernel)"
# shellcheck source=/dev/null
source "$cache/guest.env"

exec 8>"$cache/.systemd.lock"
flock 8

root=$cache/systemd-root
stamp=$(cat "$here/sdinit" "$here/rt-guest-run" "$0" "$RT_GUEST_INITRD" | cksum)
if ((!refresh)) && [[ -f $root/.complete && -f $cache/systemd.env && -f $cache/initramfs-systemd.cpio ]] &&
    [[ $(cat "$cache/systemd.stamp" 2>/dev/null) == "$stamp" ]]; then
    exit 0
fi

# ---------------------------------------------------------------------------------------------
# The Debian root (debootstrap once; the configuration below is redone when this script changes)
if ((refresh)) || ! [[ -f $root/.debootstrap-complete ]]; then
    if ! command -v debootstrap >/dev/null; then
        log "installing debootstrap from Debian"
        export DEBIAN_FRONTEND=noninteractive
        apt-get -o DPkg::Lock::Timeout=600 -q install -y --no-install-recommends debootstrap >/dev/null ||
            { apt-get -q update >/dev/null && apt-get -o DPkg::Lock::Timeout=600 -q install -y --no-install-recommends debootstrap >/dev/null; } ||
            die "cannot install debootstrap"
    fi
    rm -rf "$root" "$root.tmp" && mkdir -p "$cache/debs-systemd"
    log "debootstrap $suite into $root (a few minutes, once)"
    t0=$(date +%s)
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,kmod \
        --cache-dir="$cache/debs-systemd" "$suite" "$root.tmp" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
        { tail -20 "$cache/debootstrap.log" >&2; die "debootstrap failed (log: $cache/debootstrap.log)"; }
    touch "$root.tmp/.debootstrap-complete"
    mv "$root.tmp" "$root"
    log "debootstrap took $(($(date +%s) - t0)) s"
fi
rm -f "$root/.complete"
[[ -x $root/lib/systemd/systemd ]] || die "no systemd in $root"

# Guest configuration: boot to rt-test.target (basic system + dbus + the command), volatile
# journal, no gettys. The root is mounted read-only under a tmpfs overlay in the guest.
echo rt-systemd-guest >"$root/etc/hostname"
[[ -s $root/etc/machine-id ]] || echo "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$root/etc/machine-id"
mkdir -p "$root/etc/systemd/journald.conf.d" "$root/etc/systemd/system" "$root/rt-io" "$root/usr/local/sbin"
printf '[Journal]\nStorage=volatile\nForwardToConsole=no\n' >"$root/etc/systemd/journald.conf.d/rt.conf"
install -m 755 "$here/rt-guest-run" "$root/usr/local/sbin/rt-guest-run"
cat >"$root/etc/systemd/system/rt-test.target" <<'UNIT'
[Unit]
Description=rt test guest: basic system, dbus and the test command
Requires=basic.target dbus.service rt-test.service
After=basic.target dbus.service rt-test.service
AllowIsolate=yes
UNIT
cat >"$root/etc/systemd/system/rt-test.service" <<'UNIT'
[Unit]
Description=rt test command
After=basic.target dbus.service
Requires=dbus.service
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/rt-guest-run
StandardInput=null
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity
UNIT

# ---------------------------------------------------------------------------------------------
# initramfs: the base one plus /sdinit (booted with rdinit=/sdinit)
ird=$cache/initramfs-systemd.d
rm -rf "$ird" && mkdir -p "$ird"
install -m 755 "$here/sdinit" "$ird/sdinit"
(cd "$ird" && find . -print | LC_ALL=C sort | "$RT_GUEST_BUSYBOX" cpio -o -H newc 2>/dev/null) >"$ird.cpio"
cat "$RT_GUEST_INITRD" "$ird.cpio" >"$cache/initramfs-systemd.cpio.tmp"
mv -f "$cache/initramfs-systemd.cpio.tmp" "$cache/initramfs-systemd.cpio"
rm -rf "$ird" "$ird.cpio"

cat >"$cache/systemd.env" <<ENV
# written by tests/guest/systemd/prepare.sh; sourced by tests/guest/systemd/run.sh
RT_SYSTEMD_ROOT='$root'
RT_SYSTEMD_INITRD='$cache/initramfs-systemd.cpio'
RT_SYSTEMD_VERSION='$(chroot "$root" /lib/systemd/systemd --version 2>/dev/null | head -1)'
ENV
touch "$root/.complete"
echo "$stamp" >"$cache/systemd.stamp"
log "ready: $(chroot "$root" /lib/systemd/systemd --version 2>/dev/null | head -1)"
