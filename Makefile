# The two set-up commands: `make run` and `make test`.  Both install
# missing Debian packages (scripts/bootstrap) and build what they need.

BUILD      := build
ASAN_BUILD := build-asan
FUZZ_BUILD := build-fuzz
FUZZ_SECONDS ?= 180
MESON_TEST := meson test --print-errorlogs --num-processes 2

.PHONY: all bootstrap build build-asan build-fuzz guest guest-debian test test-debian \
	test-defconfig test-unit test-asan fuzz fuzz-seeds run ssh bench clean

all: build

bootstrap:
	@scripts/bootstrap

$(BUILD)/build.ninja:
	meson setup $(BUILD)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Dbuildtype=debug -Db_sanitize=address,undefined \
		-Dc_args=-fno-sanitize-recover=undefined

# libFuzzer targets under ASan+UBSan, built with clang (docs/fuzzing.md).
$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dc_args=-fno-sanitize-recover=undefined

build: bootstrap $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: bootstrap $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

build-fuzz: bootstrap $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)

# The default guest (Linux, busybox, ext4 root), cached outside the tree
# by guest/build; the first build takes minutes and prints progress.
guest: bootstrap
	@guest/build >/dev/null

# The Debian 13 guest (Debian's kernel, systemd, sshd, nginx), cached
# outside the tree by guest/build --debian; 10-30 minutes the first time.
guest-debian: bootstrap
	@guest/build --debian >/dev/null

# Every suite in the normal build (the hostile guest also under the ASan
# keel; the Debian guest's smoke test, test_debian_smoke, among them),
# then the unit suite under ASan+UBSan, then each fuzz target over its
# seed corpus plus a short fixed-seed run.
test: build build-asan build-fuzz guest guest-debian
	@status=0; \
	KEEL_GUEST_DIR=$$(guest/build) KEEL_DEBIAN_DIR=$$(guest/build --debian) \
	KEEL_ASAN=$(CURDIR)/$(ASAN_BUILD)/keel \
		$(MESON_TEST) -C $(BUILD) || status=1; \
	$(MESON_TEST) -C $(ASAN_BUILD) --suite unit || status=1; \
	$(MESON_TEST) -C $(FUZZ_BUILD) --suite fuzz || status=1; \
	scripts/test-summary $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD); \
	exit $$status

# Every fuzz target for FUZZ_SECONDS (default 180) each, one after the
# other at the lowest priority; prints executions, exec/s, coverage and
# crashes per target.  What the fuzzers find new is kept in
# ~/.cache/keel/fuzz/NAME (not the repository); crash inputs are printed.
fuzz: build-fuzz
	@status=0; \
	for t in $(FUZZ_BUILD)/tests/fuzz/fuzz_*; do \
		[ -f $$t ] && [ -x $$t ] || continue; \
		n=$${t##*/fuzz_}; mkdir -p $$HOME/.cache/keel/fuzz/$$n; \
		FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_SEED=0 FUZZ_WORK=$$HOME/.cache/keel/fuzz/$$n \
			nice -n 19 tests/fuzz/run-target $$t tests/fuzz/corpus/$$n || status=1; \
	done; exit $$status

# Rewrite the generated seeds (after a format change); crash-* inputs stay.
fuzz-seeds: build-fuzz
	$(FUZZ_BUILD)/tests/fuzz/make_seeds tests/fuzz/corpus

# The riscv defconfig kernel (SMP, ~45 minutes to build on two cores)
# boots to the initramfs shell.  Too slow for CI, so not part of `test`.
test-defconfig: build guest
	KEEL_GUEST_DIR=$$(guest/build) python3 tests/integration/test_defconfig.py

# The Debian guest's whole test: boot to multi-user.target, ssh, nginx,
# clone, poweroff, record and 3 replays (tests/integration/test_debian.py);
# then introspection on Debian's kernel against the guest's own tools and
# a rootkit-like module built for it (test_vmi_debian.py, docs/vmi.md).
test-debian: build guest-debian
	KEEL_DEBIAN_DIR=$$(guest/build --debian) python3 tests/integration/test_debian.py
	KEEL_DEBIAN_DIR=$$(guest/build --debian) python3 tests/integration/test_vmi_debian.py
	KEEL_DEBIAN_DIR=$$(guest/build --debian) KEEL=build/keel python3 tests/integration/test_ids_debian.py
	KEEL_DEBIAN_DIR=$$(guest/build --debian) KEEL=build/keel python3 tests/integration/test_analyze_debian.py

test-unit: build
	$(MESON_TEST) -C $(BUILD) --suite unit

test-asan: build-asan
	$(MESON_TEST) -C $(ASAN_BUILD) --suite unit

# Boot a guest with its console on this terminal (Ctrl-a x quits).
# GUEST=default (the default): the busybox guest, its root disk an overlay
# over its ext4 image, its web server on http://127.0.0.1:8080/.
# GUEST=debian: Debian 13 with Debian's kernel; log in as root without a
# password; sshd on 127.0.0.1:2222 (make ssh GUEST=debian), nginx on
# http://127.0.0.1:8080/ (docs/guest.md).
# The control socket makes the services reachable: keel ctl status,
# snapshot, clone, suspend --encrypt (docs/api.md).
# The socket must sit in a directory only you can write (docs/api.md):
# $XDG_RUNTIME_DIR, or a private directory made here.
GUEST ?= default
API_DIR ?= $${XDG_RUNTIME_DIR:-/tmp/keel-$$(id -u)}
API_SOCK ?= $(API_DIR)/keel.sock
STATE_DIR := $${XDG_STATE_HOME:-$$HOME/.local/state}/keel

ifeq ($(GUEST),debian)
run: build guest-debian
	@mkdir -p -m 700 $(API_DIR)
	@d=$$(guest/build --debian) && mkdir -p $(STATE_DIR) && \
	echo "keel: Debian guest $$d; ssh: make ssh GUEST=debian; web: http://127.0.0.1:8080/" >&2 && \
	$(BUILD)/keel run --kernel $$d/Image --initrd $$d/initrd.img --append "$$(cat $$d/cmdline)" \
		-m 1G --disk $$d/rootfs.ext4,overlay=$(STATE_DIR)/$$(basename $$d).kov \
		--net user,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp:127.0.0.1:8080-:80 \
		--api-sock $(API_SOCK)

ssh:
	@d=$$(guest/build --debian --print-path) && \
	ssh -p 2222 -i $$d/id_ed25519 -o UserKnownHostsFile=$$d/known_hosts root@127.0.0.1
else ifeq ($(GUEST),default)
run: build guest
	mkdir -p -m 700 $(API_DIR)
	KEEL_GUEST_DIR=$$(guest/build) $(BUILD)/keel run --net user,hostfwd=tcp:127.0.0.1:8080-:80 \
		--api-sock $(API_SOCK)

ssh:
	@echo "the default guest has no sshd; make ssh GUEST=debian" >&2; exit 2
else
run ssh:
	@echo "GUEST must be default or debian, not '$(GUEST)'" >&2; exit 2
endif

# Speed against QEMU (installed here): bare-metal MIPS, then the Linux
# workloads of the guest benchmark (bench/README.md).
bench: build guest
	KEEL_BOOTSTRAP_BENCH=1 scripts/bootstrap
	bench/cpu-bench
	KEEL_GUEST_DIR=$$(guest/build) bench/guest-bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
