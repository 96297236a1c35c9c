# rt: build, bundle, run, test, bench.
# `make run` builds rt and runs a busybox container; `make test` runs the whole suite (as root).

CARGO   ?= cargo
HOST    := $(shell rustc -vV | sed -n 's/^host: //p')
RT      := target/$(HOST)/release/rt
RT_DEBUG := target/debug/rt
BUNDLE  := bundles/busybox
ROOTFS  := $(BUNDLE)/rootfs
PREFIX  ?= /usr/local

.PHONY: all build build-debug bundle run test test-unit test-host test-v2 lint fmt bench install clean guest guest-selftest test-engines test-cri test-cri-v2 test-soak fuzz test-systemd

all: build

# Release build: LTO, panic=abort, opt-level z (Cargo.toml), and a fully static, non-PIE
# executable without unwind tables: glibc linked in (crt-static; rt uses no NSS or dlopen),
# GCC's unwinder too (libgcc_eh). No dynamic loader runs at start, no library is mapped:
# fewer pages and relocations, faster to start (twice per create: see sealed.rs), nothing to
# resolve on the host. --target keeps these flags off build scripts and proc macros.
GCC_EH_DIR := $(shell dirname "$$(gcc -print-file-name=libgcc_eh.a)")
build:
	RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static -C force-unwind-tables=no -L native=$(GCC_EH_DIR) -l static=gcc_eh" \
	  $(CARGO) build --release -p runtime --target $(HOST)

build-debug:
	$(CARGO) build -p runtime

$(ROOTFS)/bin/busybox: bundles/build-rootfs.sh
	bundles/build-rootfs.sh $(ROOTFS)

bundle: $(ROOTFS)/bin/busybox

# Builds rt, makes the busybox bundle and runs a container that shows its hostname,
# its pid 1 and its cgroup limits.
run: build bundle
	cd $(BUNDLE) && ../../$(RT) run rt-demo-$$$$

# The whole suite: unit tests, real containers on this host, the cgroup v2 guest.
test: lint test-unit test-host test-soak test-v2 test-systemd test-engines test-cri

test-unit:
	$(CARGO) test --workspace --lib --bins
	$(CARGO) test -p cgroups --doc

test-host: bundle build-debug
	$(CARGO) test --workspace --test '*'

# 300 containers one after another and 50 more 8 at a time: no cgroup, mount, fd, process
# or state entry left (tests/soak.rs; ignored by a plain `cargo test`).
test-soak: bundle build-debug
	$(CARGO) test -p rt-tests --test soak -- --ignored

# cargo-fuzz targets (fuzz/; not in `make test`): config.json loading and validation, and
# the seccomp translation, FUZZ_SECONDS each. Needs cargo-fuzz (installed when missing);
# RUSTC_BOOTSTRAP lets the stable toolchain build with the sanitizer flags it passes.
FUZZ_SECONDS ?= 60
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for t in config seccomp; do \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

# qemu + Debian's kernel + initramfs for the cgroup v2 tier, cached in target/guest.
guest:
	tests/guest/prepare.sh

guest-selftest: guest
	tests/guest/selftest.sh

# The real-kernel tests (cgroups crate and rt containers) inside a cgroup-v2-only qemu
# guest: binaries are built on the host, all run in one guest boot. The guest is emulated
# (TCG) and pays for every instruction: it runs the release rt (the binary users install;
# ~4x cheaper per container there than the debug build, which the host tier runs).
test-v2: bundle build build-debug guest
	RT_BIN=$(CURDIR)/$(RT) RT_GUEST_TIMEOUT=1800 tests/guest/cargo-test.sh --workspace --test '*'

# The systemd cgroup driver in a qemu guest whose PID 1 is systemd (a debootstrap'ed Debian
# root cached in target/guest/systemd-root): the cgroups crate's systemd tests and rt with
# --systemd-cgroup, in one guest boot (tests/guest/systemd/).
test-systemd: bundle build-debug guest
	tests/guest/systemd/test.sh

# podman (conmon), containerd (ctr + shim v2) and docker driving rt (tests/engines/README.md):
# installs the Debian packages when missing, private daemons and state in a temporary
# directory, removed afterwards. Then podman's checkpoint/restore checks again in the cgroup v2
# guest, whose kernel CRIU works on (on this host they check that podman is told it cannot).
test-engines: bundle build build-debug guest
	tests/engines/run.sh $(RT_DEBUG)
	tests/guest/run.sh -- env ENGINES=podman-checkpoint tests/engines/run.sh $(CURDIR)/$(RT)

# Kubernetes' path: containerd's CRI plugin with the runtime handlers rt and runc, driven by a
# Rust CRI client (tests/cri/, its own workspace: no other tier compiles tonic) as the kubelet
# would; the same flow on both, compared, and each call's latency side by side
# (tests/cri/README.md). Installs containerd, runc, containernetworking-plugins and
# protobuf-compiler when missing; lints and builds the client into target/cri.
test-cri: bundle build-debug
	tests/cri/run.sh $(RT_DEBUG)

# The same CRI flow (one round) inside the cgroup-v2-only qemu guest: packages and the client
# are prepared on the host first (the guest has no network). Not in `make test`: about 5
# minutes under emulation.
test-cri-v2: bundle build-debug guest
	CRI_PREPARE_ONLY=1 tests/cri/run.sh $(RT_DEBUG)
	RT_GUEST_TIMEOUT=1500 tests/guest/run.sh -- env CRI_CLIENT=$(CURDIR)/target/cri/debug/rt-cri \
	  CRI_ROUNDS=1 tests/cri/run.sh $(CURDIR)/$(RT_DEBUG)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# rt vs runc vs crun side by side (issue 7; not part of `make test`): release build, runc/crun
# from Debian when missing, busybox bundle under target/bench/; prints one table and writes it
# to target/bench/latest.json. Options: make bench BENCH_ARGS="--runs 100".
bench: build
	bench/bench.sh $(RT) $(BENCH_ARGS)

install: build
	install -D -m 0755 $(RT) $(DESTDIR)$(PREFIX)/bin/rt

clean:
	$(CARGO) clean
	rm -rf $(ROOTFS)
