# The two set-up commands: `make run` and `make test`.  Both install
# missing Debian packages (scripts/bootstrap) and build what they need.

BUILD      := build
ASAN_BUILD := build-asan
MESON_TEST := meson test --print-errorlogs --num-processes 2

.PHONY: all bootstrap build build-asan test test-unit test-asan run bench clean

all: build

bootstrap:
	@scripts/bootstrap

$(BUILD)/build.ninja:
	meson setup $(BUILD)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Dbuildtype=debug -Db_sanitize=address,undefined \
		-Dc_args=-fno-sanitize-recover=undefined

build: bootstrap $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: bootstrap $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

# Every suite in the normal build, then the unit suite under ASan+UBSan.
test: build build-asan
	@status=0; \
	$(MESON_TEST) -C $(BUILD) || status=1; \
	$(MESON_TEST) -C $(ASAN_BUILD) --suite unit || status=1; \
	scripts/test-summary $(BUILD) $(ASAN_BUILD); \
	exit $$status

test-unit: build
	$(MESON_TEST) -C $(BUILD) --suite unit

test-asan: build-asan
	$(MESON_TEST) -C $(ASAN_BUILD) --suite unit

# Until the Linux guest lands, `make run` runs the bare-metal CPU benchmark
# program, which prints its results through HTIF.
run: build
	bench/cpu-bench --no-qemu -n 1 all

bench: build
	KEEL_BOOTSTRAP_BENCH=1 scripts/bootstrap
	bench/cpu-bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
