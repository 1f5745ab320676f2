"""The guest workloads of bench/guest-bench, shared with their test.

- WORKLOADS: every workload, its group, the size the benchmark runs, the
  small size the test suite runs, and the checksums expected at both.
- build_kbench(): cross-compile kbench (bench/workloads/ + the kernels of
  bench/cpu/) as a static riscv64 Linux program, or natively for the host.
- bench_initramfs(): the default guest's initramfs with /bin/kbench
  appended as a second cpio archive, cached under a hash of its inputs.
- parse_result(): read kbench's result line.

See bench/README.md for what each workload does and how to read results.
"""
import gzip
import hashlib
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from guestlib import guest_files  # noqa: E402

SOURCES = ["workloads/main.c", "workloads/compress.c", "workloads/loop.c",
           "workloads/system.c", "cpu/k_int.c", "cpu/k_mem.c", "cpu/k_branch.c",
           "cpu/k_fp.c"]
HEADERS = ["workloads/kbench.h", "cpu/bench.h"]
# -ffp-contract=off -fno-math-errno: only explicit fma() fuses and sqrt is
# one instruction, so FP results are bit-exact everywhere (bench/cpu/bench.h).
CFLAGS = ["-O2", "-std=c17", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
          "-ffp-contract=off", "-fno-math-errno",
          "-I" + os.path.join(HERE, "cpu"), "-I" + os.path.join(HERE, "workloads")]
CROSS_CC = os.environ.get("CROSS", "riscv64-linux-gnu-") + "gcc"
# Bump when the archive layout below changes: it is part of the cache key.
INITRAMFS_RECIPE = 1

# Keel/QEMU wall-time ratio each group should stay under: issue 19's
# (every group at or below QEMU's time, the integer group at 0.7 of it).
# Issue 6's were 3.0 for int, mem and fp and 1.5 for sys and boot, from
# the interpreter's days.
TARGETS = {"int": 0.7, "mem": 1.0, "fp": 1.0, "sys": 1.0, "boot": 1.0, "loop": 1.0}


class Workload:
    def __init__(self, name, group, size, test_size, expected):
        self.name, self.group = name, group
        self.size, self.test_size = size, test_size
        self.expected = expected  # {size: checksum}, from the native build


# Sizes gave roughly 2-10 s under keel when they were chosen (0.2-1.5 s
# since decoded blocks, 2026-11-26).  Checksums come from the
# native build (guest-bench --host-check re-checks them); the kernels shared
# with bench/cpu give mix(0, their bare-metal checksum) at N = 1.  The third
# size is the bench size times SCALE_CHECKED (guest-bench --scale 5): since
# the JIT, the bench sizes run 0.1-0.4 s under keel, short enough for a
# shared host's noise to move a ratio by a third.
WORKLOADS = [
    Workload("sort", "int", 8, 1, {8: 0x618c678bfe5e6d5c, 1: 0x514178af9d285253, 40: 0x7a16551bb42518e9}),
    Workload("sha256", "int", 8, 1, {8: 0x231d406ddf396dc6, 1: 0x545d3406d8017522, 40: 0x3f004e802fbf28e5}),
    Workload("bytecode", "int", 10, 1, {10: 0x08d32e65a3088a57, 1: 0xe54f01e1ac171962, 50: 0x890b228b702f4c4e}),
    Workload("compress", "int", 10, 1, {10: 0x2405305693bc5a39, 1: 0x4b85df0aa9b1ea13, 50: 0x1d9dd07ebc018f62}),
    Workload("chase", "mem", 2, 1, {2: 0xc6e2c05d66c13396, 1: 0x38997f9dd2e89686, 10: 0x100a544f49237240}),
    Workload("stream", "mem", 3, 1, {3: 0x1053ee6567ea43a0, 1: 0xf1d45b38ed619d72, 15: 0xa9af4c5e3f2e47c9}),
    Workload("matmul", "fp", 5, 1, {5: 0x41afa8534fc0ec33, 1: 0x6ecbf7ecddfc1b0f, 25: 0xdfb04e40d61d4cdd}),
    Workload("nbody", "fp", 3, 1, {3: 0x05a1b76bd9204c69, 1: 0xb9945f0cd571eee7, 15: 0x64fe5462d5100809}),
    Workload("spawn", "sys", 150, 20, {150: 0x2bf82756314102a6, 20: 0x3e7c7a70b50d6af5, 750: 0x87de0ea293159503}),
    Workload("pipe", "sys", 10000, 200, {10000: 0x429ca5c8f634f16d, 200: 0x7fb02b5a1a3f4017, 50000: 0xd24f5c1e7acee7d3}),
    Workload("shell", "sys", 5000, 200, {5000: 0x074fb9003611bf5b, 200: 0x083528004c5b12f8, 25000: 0x0b66b200486a1076}),
    Workload("loop", "loop", 50, 5, {50: 0x755bde8b6fa28201, 5: 0xf572abbf04dc0969, 250: 0x2af92c57c456fa91}),
]
SCALE_CHECKED = 5
GROUPS = ["int", "mem", "fp", "sys", "loop"]


def workload(name):
    for w in WORKLOADS:
        if w.name == name:
            return w
    raise KeyError(name)


RESULT = re.compile(r"kbench (\S+) n=(\d+) checksum=(0x[0-9a-f]{16}) guest_s=([0-9.]+)"
                    r"(?: insns=(\d+))?")


def parse_result(text):
    """(name, n, checksum, guest seconds, instructions retired or None)
    from kbench's output, or None."""
    m = RESULT.search(text)
    if not m:
        return None
    insns = int(m.group(5)) if m.group(5) else None
    return m.group(1), int(m.group(2)), int(m.group(3), 16), float(m.group(4)), insns


def cache_root():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "keel", "bench")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def compile_kbench(cc, out, extra):
    srcs = [os.path.join(HERE, s) for s in SOURCES]
    cmd = [cc] + CFLAGS + ["-o", out] + srcs + extra + ["-lm"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: failed\n{r.stdout}")
    return out


def build_kbench_host(outdir):
    """kbench for the build machine itself (expected checksums)."""
    os.makedirs(outdir, exist_ok=True)
    return compile_kbench(os.environ.get("HOSTCC", "cc"), os.path.join(outdir, "kbench-host"), [])


def cpio_entry(name, mode, data, ino):
    """One newc ("070701") cpio member: owned by root, dated 0."""
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
    head = b"070701" + b"".join(b"%08x" % v for v in fields) + name.encode() + b"\0"
    head += b"\0" * (-len(head) % 4)
    return head + data + b"\0" * (-len(data) % 4)


def kbench_archive(kbench):
    """A gzip'd cpio holding /bin/kbench, to append to an initramfs: the
    kernel unpacks concatenated archives in order, each compressed or not
    (Documentation/driver-api/early-userspace/buffer-format.rst)."""
    with open(kbench, "rb") as f:
        data = f.read()
    cpio = cpio_entry("bin/kbench", 0o100755, data, 1) + cpio_entry("TRAILER!!!", 0, b"", 0)
    return gzip.compress(cpio, mtime=0)


def march_flags(march):
    """Extra compiler flags for a -march other than the toolchain's default
    (rv64gc): e.g. rv64gc_zba_zbb_zbs to measure the RVA22 bitmanip
    extensions keel implements."""
    return [f"-march={march}"] if march else []


def input_key(base_initrd, march=None):
    """What the bench initramfs is made of: the sources, the flags, the
    compiler, the base initramfs and the recipe."""
    h = hashlib.sha256()
    cc_version = subprocess.run([CROSS_CC, "--version"], stdout=subprocess.PIPE,
                                text=True, check=True).stdout.splitlines()[0]
    flags = CFLAGS + march_flags(march)
    h.update(f"recipe {INITRAMFS_RECIPE}\ncc {cc_version}\ncflags {' '.join(flags)}\n".encode())
    for rel in SOURCES + HEADERS:
        with open(os.path.join(HERE, rel), "rb") as f:
            h.update(f"{rel} {hashlib.sha256(f.read()).hexdigest()}\n".encode())
    h.update(f"base {sha256_file(base_initrd)}\n".encode())
    return h.hexdigest()[:16]


def bench_initramfs(progress=None, march=None):
    """Path of the bench initramfs (built if missing) and of the kbench it
    holds: {"initrd", "kbench", "dir"}.  Inputs unchanged, nothing is
    compiled: the result is found again by its hash.  march: see
    march_flags()."""
    base = guest_files()["initrd"]
    d = os.path.join(cache_root(), input_key(base, march))
    initrd, kbench = os.path.join(d, "initramfs.cpio.gz"), os.path.join(d, "kbench")
    if not os.path.exists(initrd):
        if progress:
            progress(f"building kbench and the bench initramfs in {d}")
        tmp = f"{d}.tmp{os.getpid()}"
        os.makedirs(tmp, exist_ok=True)
        compile_kbench(CROSS_CC, os.path.join(tmp, "kbench"), ["-static"] + march_flags(march))
        with open(base, "rb") as f:
            image = f.read()
        image += b"\0" * (-len(image) % 4) + kbench_archive(os.path.join(tmp, "kbench"))
        with open(os.path.join(tmp, "initramfs.cpio.gz"), "wb") as f:
            f.write(image)
        try:
            os.rename(tmp, d)  # atomic: a concurrent builder's result wins
        except OSError:
            subprocess.run(["rm", "-rf", tmp], check=True)
    return {"initrd": initrd, "kbench": kbench, "dir": d}
