#!/usr/bin/env python3
"""The guest benchmark's workloads (bench/workloads/, run by
bench/guest-bench) at their small test sizes under keel: boot the default
kernel with the bench initramfs, run every workload once and check its
checksum against the value computed natively on the host.  Guards the
workloads and the bench initramfs, and exercises the CPU (integer, memory,
FP) and the kernel's process paths with known answers.  Also checks the
instruction count kbench reads from instret, which guest-bench's MIPS
figures rest on, against the tight loop's known size."""
import os
import subprocess
import sys

from guestlib import Guest, GuestError, check, guest_files, main

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import benchlib  # noqa: E402


def test():
    try:
        image = benchlib.bench_initramfs(lambda msg: print(msg, flush=True))
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        raise GuestError(f"building the bench initramfs: {e}")
    g = Guest(["--kernel", guest_files()["kernel"], "--initrd", image["initrd"],
               "--append", "console=ttyS0 keel.net=off", "--disk", "none",
               "--idle-sleep", "off"])
    try:
        g.wait_ready()
        for w in benchlib.WORKLOADS:
            out, rc = g.run(f"kbench {w.name} {w.test_size}")
            got = benchlib.parse_result(out)
            check(rc == 0 and got is not None, f"kbench {w.name}: exit {rc}: {out!r}")
            want = w.expected[w.test_size]
            check(got[2] == want,
                  f"kbench {w.name} {w.test_size}: checksum 0x{got[2]:016x}, expected 0x{want:016x}")
            check(got[4] is not None, f"kbench {w.name}: no insns= in {out!r}")
            if w.name == "loop":  # about 6 instructions per iteration
                per_iteration = got[4] / (w.test_size * 1e6)
                check(5 <= per_iteration <= 8,
                      f"kbench loop: {got[4]} instructions, {per_iteration:.2f} per iteration")
            print(f"{w.name}: ok ({got[3]:.2f} s guest time, {got[4] / 1e6:.1f} M instructions)",
                  flush=True)
        out, rc = g.run("kbench nosuch 1")
        check(rc == 2 and "no workload" in out, f"unknown workload: rc={rc} {out!r}")
        g.power_off()
    finally:
        g.kill()


if __name__ == "__main__":
    main(test)
