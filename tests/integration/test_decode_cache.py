#!/usr/bin/env python3
"""Decoded blocks (docs/cpu.md: the block table, code generations, blocks
that run past branches, fused pairs) change nothing the guest or the state
digest can see:
a Linux boot from the ext4 disk (so code arrives by virtio DMA, is copied,
paged in and out, and user programs are loaded and replaced by exec) run
to instruction count N with the cache and with --no-decode-cache reaches
the same state digest and prints the same console output.

The digest covers registers, CSRs, device state and all of RAM, so any
instruction that executed differently (a stale or mis-decoded entry)
shows up; by N init has switched to the disk root and started a shell."""
import os
import re
import shutil
import subprocess
import tempfile

from guestlib import boot_args, check, guest_files, keel_path, main

N = 200_000_000
FIXED = ["--entropy-seed", "7", "--rtc-epoch", "1790000000", "-m", "256M"]
APPEND = "console=ttyS0 keel.net=off"


def run_to_n(tmp, name, extra):
    disk = os.path.join(tmp, name)
    shutil.copyfile(guest_files()["rootfs"], disk)
    args = boot_args(disk=disk, append=APPEND, extra=FIXED) + [
        "--max-insns", str(N), "--digest"] + extra
    p = subprocess.run([keel_path(), "run"] + args, capture_output=True, timeout=900,
                       stdin=subprocess.DEVNULL)
    err = p.stderr.decode("utf-8", "replace")
    check(p.returncode == 124, f"keel {' '.join(extra)}: exit {p.returncode}\n{err}")
    m = re.search(r"digest=([0-9a-f]{64}) icount=(\d+)", err)
    check(m, f"no digest line in: {err!r}")
    check(int(m.group(2)) == N, f"stopped at {m.group(2)}, not {N}")
    return m.group(1), p.stdout


def test():
    with tempfile.TemporaryDirectory() as tmp:
        cached, out_cached = run_to_n(tmp, "a.img", [])
        plain, out_plain = run_to_n(tmp, "b.img", ["--no-decode-cache"])
    check(out_cached == out_plain, "console output differs with and without the decode cache")
    check(b"keel-guest: ready" in out_cached,
          "the guest was not ready by the chosen instruction count")
    check(cached == plain, f"digest with the decode cache {cached} != without {plain}")
    print(f"digest at {N}: {cached} with and without the decode cache "
          f"({len(out_cached)} bytes of console output)")


if __name__ == "__main__":
    main(test)
