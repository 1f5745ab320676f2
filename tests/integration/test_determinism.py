#!/usr/bin/env python3
"""Two boots with no external input print identical console output, byte
for byte, and reach the same instruction count at poweroff.

Entropy and the RTC epoch are the machine's only other inputs; they are
fixed with --entropy-seed and --rtc-epoch, and the guest powers itself off
(keel.poweroff on the command line) so nothing is typed."""
import re
import subprocess

from guestlib import boot_args, check, keel_path, main

APPEND = "console=ttyS0 keel.net=off keel.poweroff"


def boot():
    args = boot_args(append=APPEND, extra=["--entropy-seed", "42", "--rtc-epoch", "1790000000",
                                           "--stats"])
    p = subprocess.run([keel_path(), "run"] + args, capture_output=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    check(p.returncode == 0, f"keel exited {p.returncode}\n{p.stderr.decode()}")
    m = re.search(rb"icount=(\d+)", p.stderr)
    check(m, f"no --stats line: {p.stderr!r}")
    check(b"keel-guest: ready" in p.stdout, "the guest never got ready")
    return p.stdout, int(m.group(1))


def test():
    out1, n1 = boot()
    out2, n2 = boot()
    if out1 != out2:
        a, b = out1.splitlines(), out2.splitlines()
        diff = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        check(False, f"console output differs at line {diff}:\n{a[diff:diff+1]}\n{b[diff:diff+1]}")
    check(n1 == n2, f"instruction counts differ: {n1} vs {n2}")
    print(f"both boots: {len(out1)} bytes of console output, {n1} instructions")


if __name__ == "__main__":
    main(test)
