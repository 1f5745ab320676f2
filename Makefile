# The two set-up commands: `make run` and `make test`.  Both install
# missing Debian packages (scripts/bootstrap) and build what they need.

BUILD      := build
ASAN_BUILD := build-asan
FUZZ_BUILD := build-fuzz
FUZZ_SECONDS ?= 180
MESON_TEST := meson test --print-errorlogs --num-processes 2

.PHONY: all bootstrap build build-asan build-fuzz guest test test-defconfig test-unit test-asan \
	fuzz fuzz-seeds run bench clean

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

# Every suite in the normal build (the hostile guest also under the ASan
# keel), then the unit suite under ASan+UBSan, then each fuzz target over
# its seed corpus plus a short fixed-seed run.
test: build build-asan build-fuzz guest
	@status=0; \
	KEEL_GUEST_DIR=$$(guest/build) KEEL_ASAN=$(CURDIR)/$(ASAN_BUILD)/keel \
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

test-unit: build
	$(MESON_TEST) -C $(BUILD) --suite unit

test-asan: build-asan
	$(MESON_TEST) -C $(ASAN_BUILD) --suite unit

# Boot the default guest: console on this terminal (Ctrl-a x quits), the
# root disk an overlay over the guest's ext4 image, user networking with
# the guest's web server on http://127.0.0.1:8080/.
# The control socket makes the services reachable: keel ctl status,
# snapshot, clone, suspend --encrypt (docs/api.md).
# The socket must sit in a directory only you can write (docs/api.md):
# $XDG_RUNTIME_DIR, or a private directory made here.
API_DIR ?= $${XDG_RUNTIME_DIR:-/tmp/keel-$$(id -u)}
API_SOCK ?= $(API_DIR)/keel.sock

run: build guest
	mkdir -p -m 700 $(API_DIR)
	KEEL_GUEST_DIR=$$(guest/build) $(BUILD)/keel run --net user,hostfwd=tcp:127.0.0.1:8080-:80 \
		--api-sock $(API_SOCK)

# Speed against QEMU (installed here): bare-metal MIPS, then the Linux
# workloads of the guest benchmark (bench/README.md).
bench: build guest
	KEEL_BOOTSTRAP_BENCH=1 scripts/bootstrap
	bench/cpu-bench
	KEEL_GUEST_DIR=$$(guest/build) bench/guest-bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
