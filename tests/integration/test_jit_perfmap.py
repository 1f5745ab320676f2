#!/usr/bin/env python3
"""keel run --jit-perfmap writes /tmp/perf-<pid>.map, which perf reads to
name JIT code (docs/cpu.md, "Profiling translated code"): one line
"START SIZE keel:stubs" for the enter and leave stubs at the start of the
code cache, then "START SIZE keel:PC:PRIV" for every translation.  A
short bare-metal program (tests/isa jit-far, which switches address spaces
and links far sites) with every block translated at its first entry: every
line must be well formed, one per translated block (--stats), each inside
the 32 MiB code cache after the stubs, none overlapping another, each at a
guest pc the program has code at.  Needs no guest."""
import os
import re
import subprocess

from guestlib import check, keel_path, main

CACHE = 32 << 20  # JIT_CACHE_BYTES
LINE = re.compile(r"^([0-9a-f]+) ([0-9a-f]+) keel:(stubs|([0-9a-f]+):([USM]))$")


def test():
    keel = keel_path()
    elf = os.path.join(os.path.dirname(keel), "tests", "isa", "jit-far.elf")
    check(os.path.exists(elf), f"{elf} not built")
    p = subprocess.Popen([keel, "run", "--bios", "none", "--kernel", elf, "--max-insns",
                          "10000000", "--jit", "on", "--jit-threshold", "0", "--jit-perfmap",
                          "--stats"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    path = f"/tmp/perf-{p.pid}.map"
    try:
        out, err = p.communicate(timeout=120)
        check(p.returncode == 0, f"exit {p.returncode}: {err[-1500:]}")
        check(os.path.exists(path), f"no {path}")
        with open(path) as f:
            lines = f.read().splitlines()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        if os.path.exists(path):
            os.unlink(path)
    m = re.search(r"jit blocks=(\d+)", err)
    check(m, f"no jit stats: {err[-800:]}")
    blocks = int(m.group(1))
    check(blocks > 20, f"only {blocks} blocks translated")
    parsed = [LINE.match(line) for line in lines]
    bad = [line for line, m in zip(lines, parsed) if not m]
    check(not bad, f"malformed lines: {bad[:5]}")
    check(parsed[0].group(3) == "stubs", f"first line not the stubs: {lines[0]}")
    check(len(lines) == blocks + 1, f"{len(lines) - 1} translations named, {blocks} translated")
    cache = int(parsed[0].group(1), 16)
    spans = []
    for m in parsed:
        start, size = int(m.group(1), 16), int(m.group(2), 16)
        check(size > 0 and cache <= start and start + size <= cache + CACHE,
              f"{m.group(0)} outside the code cache at {cache:#x}")
        spans.append((start, size, m.group(0)))
    spans.sort()
    for (s0, n0, l0), (s1, _, l1) in zip(spans, spans[1:]):
        check(s0 + n0 <= s1, f"{l0} overlaps {l1}")
    # jit-far runs M-mode code at DRAM_BASE and S-mode code it maps
    # itself; every pc must be even (IALIGN 16) and at least one in each
    pcs = [(int(m.group(4), 16), m.group(5)) for m in parsed[1:]]
    check(all(pc % 2 == 0 for pc, _ in pcs), "an odd pc")
    check(any(priv == "M" and 0x80000000 <= pc < 0x80100000 for pc, priv in pcs),
          "no M-mode translation at DRAM_BASE")
    check(any(priv == "S" for _, priv in pcs), "no S-mode translation")


if __name__ == "__main__":
    main(test)
