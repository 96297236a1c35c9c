#!/usr/bin/env bash
# `make bench`: rt vs runc vs crun, side by side, on this machine (issue 7).
# usage: bench/bench.sh [RT_BINARY] [bench.py options...]   (run as root, from anywhere)
#
# Installs what the benchmark needs when it is missing (runc, crun, strace, binutils for
# `strip`, busybox-static through bundles/build-rootfs.sh), builds the busybox rootfs under
# target/bench/, then hands over to bench/bench.py, which re-executes itself in a private
# mount namespace (see bench/README.md).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
rt=${1:-$repo/target/release/rt}
shift || true

if [[ $(id -u) != 0 ]]; then
    echo "bench: must run as root (containers, cgroups, mount namespace)" >&2
    exit 1
fi
if [[ ! -x $rt ]]; then
    echo "bench: $rt not found; build it first (cargo build --release -p runtime)" >&2
    exit 1
fi

# Debian packages, installed only when missing.
need=()
command -v runc >/dev/null || need+=(runc)
command -v crun >/dev/null || need+=(crun)
command -v strace >/dev/null || need+=(strace)
command -v strip >/dev/null || need+=(binutils)
[[ -x /usr/bin/time ]] || need+=(time)
command -v unshare >/dev/null || need+=(util-linux)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
    echo "bench: installing ${need[*]} from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get -o DPkg::Lock::Timeout=600 install -y "${need[@]}" >/dev/null; then
        apt-get -o DPkg::Lock::Timeout=600 update >/dev/null
        apt-get -o DPkg::Lock::Timeout=600 install -y "${need[@]}" >/dev/null
    fi
fi

# The busybox rootfs every runtime runs from (read-only, shared by all bundles).
rootfs=$repo/target/bench/rootfs
if [[ ! -x $rootfs/bin/busybox || $repo/bundles/build-rootfs.sh -nt $rootfs/bin/busybox ]]; then
    "$repo/bundles/build-rootfs.sh" "$rootfs"
fi

exec python3 "$repo/bench/bench.py" --rt "$rt" --rootfs "$rootfs" "$@"
