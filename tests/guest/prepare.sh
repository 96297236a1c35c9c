#!/usr/bin/env bash
# Prepare the cgroup v2 guest: qemu, Debian's kernel (+ modules) and a busybox initramfs.
#
# usage: tests/guest/prepare.sh [--refresh]
#
# Everything is cached under target/guest/ (gitignored); a second run with a complete cache
# does nothing and needs no network. --refresh re-resolves the kernel package (picks up a new
# Debian kernel) and rebuilds the initramfs.
#
# The host's installed packages are left alone, except busybox-static, which is installed from
# Debian when the host has no static busybox (the project's bundles need it too). qemu is used
# from the host when qemu-system-x86_64 is installed; otherwise Debian's qemu-system-x86 and the
# libraries the host lacks are `apt-get download`ed and unpacked with `dpkg -x` into the cache
# (a plain `apt-get install qemu-system-x86` would remove the backported qemu-utils).
#
# Writes target/guest/guest.env, which run.sh sources. Exits non-zero, loudly, when qemu or
# the kernel cannot be had.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${RT_GUEST_CACHE:-$repo/target/guest}
refresh=0
for arg in "$@"; do
    case $arg in
    --refresh) refresh=1 ;;
    -h | --help)
        sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "prepare.sh: unknown argument: $arg" >&2
        exit 2
        ;;
    esac
done

die() {
    {
        echo
        echo "################################################################################"
        echo "## rt guest prepare FAILED: $*"
        echo "## The cgroup v2 guest tests cannot run on this machine."
        echo "################################################################################"
    } >&2
    exit 1
}
log() { echo "prepare.sh: $*" >&2; }

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-o DPkg::Lock::Timeout=600 -q)
apt_updated=0
apt_update_once() {
    ((apt_updated)) && return 0
    log "apt-get update"
    apt-get "${apt_opts[@]}" update >/dev/null || die "apt-get update failed"
    apt_updated=1
}
# Package lists exist? (apt-cache looks need them.)
apt_lists_present() {
    compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}
ensure_apt_lists() {
    apt_lists_present || apt_update_once
}
# apt-get download PKG... into $cache/debs (re-using .debs already there).
apt_download() {
    mkdir -p "$cache/debs"
    local need=() p
    for p in "$@"; do
        compgen -G "$cache/debs/${p%%=*}_*.deb" >/dev/null || need+=("$p")
    done
    ((${#need[@]})) || return 0
    log "apt-get download ${need[*]}"
    # _apt cannot write into root-owned dirs; apt then downloads as root and warns. Silence that.
    if ! (cd "$cache/debs" && apt-get "${apt_opts[@]}" download "${need[@]}" 2>&1 |
        grep -v -e 'unsandboxed as root' -e '^Get:' -e '^Fetched' >&2); then
        :
    fi
    for p in "${need[@]}"; do
        if ! compgen -G "$cache/debs/${p%%=*}_*.deb" >/dev/null; then
            apt_update_once
            (cd "$cache/debs" && apt-get "${apt_opts[@]}" download "$p" 2>&1 |
                grep -v -e 'unsandboxed as root' -e '^Get:' -e '^Fetched' >&2) || true
            compgen -G "$cache/debs/${p%%=*}_*.deb" >/dev/null || die "apt-get download $p failed"
        fi
    done
}

[[ $(id -u) == 0 ]] || die "must run as root (apt-get, and qemu shares the host root read-write)"
[[ $(uname -m) == x86_64 ]] || die "only x86_64 hosts are supported"
command -v apt-get >/dev/null || die "apt-get not found (Debian host expected)"
mkdir -p "$cache"
# One prepare at a time (run.sh calls it; test runs may start in parallel).
exec 9>"$cache/.lock"
flock 9

# criu, for the checkpoint/restore tests (tests/checkpoint.rs, tests/engines/podman-checkpoint.sh).
# The guest runs the host's root, so it is installed on the host, from Debian (a host kernel
# newer than that CRIU knows fails `criu check` there; the guest's Debian kernel passes it).
if ! command -v criu >/dev/null; then
    log "installing criu from Debian (for the checkpoint/restore tests in the guest)"
    ensure_apt_lists
    apt-get "${apt_opts[@]}" install -y --no-install-recommends criu >/dev/null ||
        { apt_update_once && apt-get "${apt_opts[@]}" install -y --no-install-recommends criu >/dev/null; } ||
        log "WARNING: cannot install criu: the checkpoint/restore tests will fail in the guest"
fi

# Fast path: everything present and no --refresh.
if ((!refresh)) && [[ -f $cache/guest.env ]]; then
    # shellcheck source=/dev/null
    if (source "$cache/guest.env" && [[ -x $RT_GUEST_QEMU && -f $RT_GUEST_KERNEL && -f $RT_GUEST_INITRD \
        && -f $RT_GUEST_MODDIR/modules.dep && -x $RT_GUEST_BUSYBOX ]] \
        && [[ $(cat "$cache/initramfs.stamp" 2>/dev/null) == "$(cat "$here"/init "$here"/stage2 "$0" | cksum)" ]] \
        && env LD_LIBRARY_PATH="${RT_GUEST_LD_LIBRARY_PATH:-}" "$RT_GUEST_QEMU" --version >/dev/null 2>&1); then
        [[ -z ${RT_GUEST_VERBOSE:-} ]] || log "up to date ($cache/guest.env)"
        exit 0
    fi
fi

# ---------------------------------------------------------------------------------------------
# busybox-static (host, for the project's bundles; and copied into the initramfs)
busybox=/bin/busybox
is_static_busybox() {
    "$1" --list >/dev/null 2>&1 && [[ $(LC_ALL=C ldd "$1" 2>&1) == *"not a dynamic executable"* ]]
}
if ! is_static_busybox "$busybox"; then
    if dpkg-query -W -f='${Status}' busybox 2>/dev/null | grep -q 'install ok installed'; then
        # Installing busybox-static would remove the dynamic busybox package: unpack it instead.
        ensure_apt_lists
        apt_download busybox-static
        rm -rf "$cache/busybox-static" && mkdir -p "$cache/busybox-static"
        dpkg -x "$(compgen -G "$cache/debs/busybox-static_*.deb" | tail -1)" "$cache/busybox-static"
        busybox=$cache/busybox-static/bin/busybox
    else
        log "installing busybox-static from Debian"
        ensure_apt_lists
        apt-get "${apt_opts[@]}" install -y --no-install-recommends busybox-static >/dev/null ||
            { apt_update_once && apt-get "${apt_opts[@]}" install -y --no-install-recommends busybox-static >/dev/null; } ||
            die "cannot install busybox-static"
    fi
fi
is_static_busybox "$busybox" || die "no static busybox ($busybox)"
mkdir -p "$cache/bin"
cp -f "$busybox" "$cache/bin/busybox.tmp" && mv -f "$cache/bin/busybox.tmp" "$cache/bin/busybox"
busybox=$cache/bin/busybox

# ---------------------------------------------------------------------------------------------
# qemu
qemu_ld_path=
qemu_datadirs=
if command -v qemu-system-x86_64 >/dev/null && qemu-system-x86_64 --version >/dev/null 2>&1; then
    qemu=$(command -v qemu-system-x86_64)
    log "using the host's $qemu"
else
    qroot=$cache/qemu
    if ! [[ -x $qroot/usr/bin/qemu-system-x86_64 && -f $qroot/.complete ]]; then
        ensure_apt_lists
        # What apt would install: qemu-system-x86 and the libraries the host lacks. Parse a
        # simulation (it may also list removals, e.g. qemu-utils: we install nothing, so that
        # does not matter).
        sim() { apt-get "${apt_opts[@]}" -s install --no-install-recommends qemu-system-x86 2>/dev/null | awk '/^Inst /{print $2}'; }
        mapfile -t pkgs < <(sim)
        if ((${#pkgs[@]} == 0)); then
            apt_update_once
            mapfile -t pkgs < <(sim)
        fi
        ((${#pkgs[@]})) || die "apt cannot resolve qemu-system-x86 (is Debian's main archive configured?)"
        apt_download "${pkgs[@]}"
        rm -rf "$qroot" && mkdir -p "$qroot"
        for p in "${pkgs[@]}"; do
            deb=$(compgen -G "$cache/debs/${p}_*.deb" | tail -1)
            dpkg -x "$deb" "$qroot" || die "dpkg -x $deb failed"
        done
        touch "$qroot/.complete"
    fi
    qemu=$qroot/usr/bin/qemu-system-x86_64
    qemu_ld_path=$qroot/usr/lib/x86_64-linux-gnu:$qroot/lib/x86_64-linux-gnu
    qemu_datadirs=$qroot/usr/share/qemu:$qroot/usr/share/seabios
    log "using qemu unpacked in $qroot"
fi
env LD_LIBRARY_PATH="$qemu_ld_path" "$qemu" --version >/dev/null 2>&1 ||
    die "$qemu does not run: $(env LD_LIBRARY_PATH="$qemu_ld_path" "$qemu" --version 2>&1 | head -3)"
if env LD_LIBRARY_PATH="$qemu_ld_path" "$qemu" -device help 2>/dev/null | grep -q '"virtio-9p-pci"'; then :; else
    die "$qemu has no virtio-9p-pci device"
fi

# firmware: qboot (fast) if available, else SeaBIOS (qemu's default)
bios=
IFS=: read -r -a dirs <<<"${qemu_datadirs}:/usr/share/qemu:/usr/share/qboot"
for d in "${dirs[@]}"; do
    [[ -n $d && -f $d/qboot.rom ]] && { bios=$d/qboot.rom && break; }
done

# ---------------------------------------------------------------------------------------------
# kernel
kver_file=$cache/kernel.pkg
if ((refresh)) || ! [[ -s $kver_file ]]; then
    ensure_apt_lists
    resolve() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
    kpkg=$(resolve)
    if [[ -z $kpkg ]]; then
        apt_update_once
        kpkg=$(resolve)
    fi
    [[ -n $kpkg ]] || die "cannot resolve linux-image-amd64 to a kernel package"
    echo "$kpkg" >"$kver_file"
fi
kpkg=$(cat "$kver_file")
kver=${kpkg#linux-image-}
kroot=$cache/kernel/$kver
if ! [[ -f $kroot/.complete ]]; then
    ensure_apt_lists
    apt_download "$kpkg"
    rm -rf "$kroot" && mkdir -p "$kroot"
    deb=$(compgen -G "$cache/debs/${kpkg}_*.deb" | tail -1)
    log "unpacking $(basename "$deb")"
    dpkg -x "$deb" "$kroot/root" || die "dpkg -x $deb failed"
    [[ -f $kroot/root/boot/vmlinuz-$kver ]] || die "no vmlinuz in $deb"
    touch "$kroot/.complete"
fi
moddir=$kroot/root/lib/modules/$kver
vmlinuz=$kroot/root/boot/vmlinuz-$kver

# modules.dep / modules.alias for the guest's modprobe (busybox depmod)
if ! [[ -s $moddir/modules.dep && -s $moddir/modules.alias ]]; then
    log "depmod $kver"
    "$busybox" depmod -b "$kroot/root" "$kver" || die "depmod failed"
fi

# An uncompressed ELF vmlinux boots much faster under TCG than vmlinuz (PVH entry, no
# decompression in the emulated guest). extract-vmlinux, in a few lines.
is_elf() { [[ $(head -c4 "$1" 2>/dev/null | od -An -c | tr -d ' ') == '177ELF' ]]; }
kernel=$kroot/vmlinux
if ! is_elf "$kernel"; then
    rm -f "$kernel"
    try() { # magic-in-grep-P-syntax decompress-command...
        local magic=$1 off
        shift
        command -v "$1" >/dev/null || return 1
        while read -r off; do
            tail -c "+$((off + 1))" "$vmlinuz" | "$@" >"$kernel.tmp" 2>/dev/null || true
            if is_elf "$kernel.tmp"; then
                mv -f "$kernel.tmp" "$kernel"
                return 0
            fi
        done < <(LC_ALL=C grep -obUaP "$magic" "$vmlinuz" | cut -d: -f1)
        rm -f "$kernel.tmp"
        return 1
    }
    try '\xfd7zXZ\x00' xz -dc || try '\x28\xb5\x2f\xfd' zstd -dcq || try '\x1f\x8b\x08' gzip -dc ||
        try '\x02\x21\x4c\x18' lz4 -dc || try '\x5d\x00\x00\x00' xz -dc --format=lzma || true
    if is_elf "$kernel" && readelf -n "$kernel" 2>/dev/null | grep -q 'Xen'; then
        log "extracted $(basename "$kernel") (PVH entry)"
    else
        rm -f "$kernel"
        log "no bootable vmlinux could be extracted; booting vmlinuz (slower)"
        kernel=$vmlinuz
    fi
fi

# ---------------------------------------------------------------------------------------------
# initramfs: busybox, /init, stage2, and the modules needed to mount the host root over 9p.
# (Everything else is loaded on demand in the guest from $moddir through the 9p share.)
early_mods=(virtio_pci 9pnet_virtio 9p)
declare -A dep_of=() path_of=() seen=()
while IFS= read -r line; do
    mod=${line%%:*}
    name=$(basename "$mod" .ko)
    name=${name//-/_}
    path_of[$name]=$mod
    dep_of[$name]=${line#*:}
done <"$moddir/modules.dep"
order=()
visit() {
    local n=${1//-/_} d
    [[ -n ${seen[$n]:-} ]] && return 0
    seen[$n]=1
    [[ -n ${path_of[$n]:-} ]] || return 0 # built in
    for d in ${dep_of[$n]}; do
        visit "$(basename "$d" .ko)"
    done
    order+=("${path_of[$n]}")
}
for m in "${early_mods[@]}"; do visit "$m"; done

stamp=$(cat "$here"/init "$here"/stage2 "$0" | cksum)
ird=$cache/initramfs.d
rm -rf "$ird" && mkdir -p "$ird"/{bin,dev,proc,sys,host,mods}
cp "$busybox" "$ird/bin/busybox"
ln -s busybox "$ird/bin/sh"
cp "$here/init" "$ird/init" && chmod 755 "$ird/init"
cp "$here/stage2" "$ird/stage2" && chmod 755 "$ird/stage2"
: >"$ird/mods/order"
for m in "${order[@]}"; do
    cp "$moddir/$m" "$ird/mods/"
    basename "$m" >>"$ird/mods/order"
done
echo "$kver" >"$ird/kver"
mknod -m 600 "$ird/dev/console" c 5 1 2>/dev/null || true
(cd "$ird" && find . -print | LC_ALL=C sort | "$busybox" cpio -o -H newc 2>/dev/null) >"$cache/initramfs.cpio.tmp"
mv -f "$cache/initramfs.cpio.tmp" "$cache/initramfs.cpio"
rm -rf "$ird"

cat >"$cache/guest.env.tmp" <<EOF
# written by tests/guest/prepare.sh; sourced by tests/guest/run.sh
RT_GUEST_QEMU='$qemu'
RT_GUEST_LD_LIBRARY_PATH='$qemu_ld_path'
RT_GUEST_QEMU_DATADIRS='$qemu_datadirs'
RT_GUEST_BIOS='$bios'
RT_GUEST_KERNEL='$kernel'
RT_GUEST_KVER='$kver'
RT_GUEST_MODDIR='$moddir'
RT_GUEST_INITRD='$cache/initramfs.cpio'
RT_GUEST_BUSYBOX='$busybox'
EOF
mv -f "$cache/guest.env.tmp" "$cache/guest.env"
echo "$stamp" >"$cache/initramfs.stamp"
log "ready: kernel $kver ($(basename "$kernel")), qemu $(env LD_LIBRARY_PATH="$qemu_ld_path" "$qemu" --version | head -1 | awk '{print $4}'), firmware ${bios:-seabios (default)}"
