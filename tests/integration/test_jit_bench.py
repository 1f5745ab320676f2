#!/usr/bin/env python3
"""The bare-metal CPU benchmark (bench/cpu, every group) with every block
translated by the JIT at its first entry (--jit on --jit-threshold 0): it
must print PASS (its own checksums) and end in the state digest the plain
interpreter (--no-decode-cache) reaches.  Run by the ASan+UBSan keel too
when KEEL_ASAN names it: translated code writes guest RAM and the hart
directly, and the sanitizers watch everything around it.  Needs no guest."""
import os
import re
import subprocess
import tempfile

from guestlib import check, keel_path, main

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXED = ["--entropy-seed", "7", "--rtc-epoch", "1790000000", "--digest"]
JIT_ALL = ["--jit", "on", "--jit-threshold", "0"]


def run(keel, elf, extra, env=None):
    p = subprocess.run([keel, "run", "--bios", "none", "--kernel", elf] + FIXED + extra,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900,
                       env=env)
    check(p.returncode == 0, f"{keel} {' '.join(extra)}: exit {p.returncode}: {p.stderr[-2000:]}")
    check("PASS" in p.stdout, f"{keel} {' '.join(extra)}: no PASS: {p.stdout[-1000:]}")
    check(not re.search(r"AddressSanitizer|runtime error|LeakSanitizer", p.stderr),
          f"sanitizer report: {p.stderr[-3000:]}")
    m = re.search(r"digest=([0-9a-f]{64}) icount=(\d+)", p.stderr)
    check(m, f"no digest line: {p.stderr[-500:]}")
    return m.groups()


def test():
    with tempfile.TemporaryDirectory() as tmp:
        b = subprocess.run([os.path.join(REPO, "bench", "cpu-bench"), "--build-only", "-o", tmp,
                            "all"], capture_output=True, text=True, timeout=600)
        check(b.returncode == 0, f"building bench/cpu: {b.stderr[-2000:]}")
        elf = os.path.join(tmp, "cpu-all.elf")
        plain = run(keel_path(), elf, ["--no-decode-cache"])
        jit = run(keel_path(), elf, JIT_ALL)
        check(jit == plain, f"with the JIT {jit}, with --no-decode-cache {plain}")
        print(f"bench/cpu all: digest {plain[0]} at {plain[1]} with and without the JIT")
        if os.environ.get("KEEL_ASAN"):
            # with its leak check at exit, under the seccomp filter
            # (an ASan build allows the check's calls: docs/sandbox.md)
            env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")
            asan = run(os.environ["KEEL_ASAN"], elf, JIT_ALL, env)
            check(asan == plain, f"ASan keel with the JIT {asan}, plain {plain}")
            print(f"{os.environ['KEEL_ASAN']}: the same with the JIT, no sanitizer report")


if __name__ == "__main__":
    main(test)
