#!/usr/bin/env python3
"""The hostile guest (tests/hostile/hostile.c) on the virt board with every
virtio device present: 400 000 random MMIO accesses over every window,
20 000 malformed descriptor chains per device, then checks that each
device reports a loop, a bad next index, a jumping avail index and a bad
indirect table as DEVICE_NEEDS_RESET with a configuration interrupt.

keel must stay up (no crash, hang or sanitizer report), run the program
to its end and exit with the program's PASS.  Run under the ASan+UBSan
build too when KEEL_ASAN names its keel.  Needs no guest."""
import os
import re
import subprocess
import tempfile

from guestlib import check, keel_path, main, wfi_image


def run(keel, tmp, hostile, env=None):
    img, disk, out = (os.path.join(tmp, n) for n in ("k.img", "disk.img", "console.out"))
    wfi_image(img)
    with open(disk, "wb") as f:
        f.truncate(64 * 1024)
    with open(out, "wb") as console:
        p = subprocess.run([keel, "run", "--bios", hostile, "--kernel", img, "--disk", disk,
                            "--net", "none", "--idle-sleep", "off", "-m", "64M",
                            "--max-insns", "3000000000"],
                           stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.PIPE,
                           text=True, timeout=600, env=env)
    with open(out, "rb") as f:
        f.seek(max(0, os.path.getsize(out) - 4096))
        tail = f.read().decode(errors="replace")
    check(p.returncode == 0, f"{keel}: exit {p.returncode} (the program's FAIL code is "
          f"exit>>16 of 0x3333|code<<16; 124 = it never finished): {p.stderr[-2000:]}")
    check(not re.search(r"AddressSanitizer|runtime error|LeakSanitizer", p.stderr),
          f"sanitizer report: {p.stderr[-3000:]}")
    m = re.search(r"hostile: done ops=(\d+) device-resets=(\d+) traps=(\d+)", tail)
    check(m, f"no summary from the program: {tail[-500:]!r}")
    ops, resets = int(m.group(1)), int(m.group(2))
    check(ops == 480000, f"ops={ops}")
    check(resets > 1000, f"only {resets} device resets: the malformed rings did not bite")
    print(f"{keel}: {m.group(0)}")


def test():
    hostile = os.environ.get("HOSTILE_BIN") or os.path.join(
        os.path.dirname(keel_path()), "tests", "hostile", "hostile.bin")
    with tempfile.TemporaryDirectory() as tmp:
        run(keel_path(), tmp, hostile)
        if os.environ.get("KEEL_ASAN"):
            # with its leak check at exit, under the seccomp filter
            # (an ASan build allows the check's calls: docs/sandbox.md)
            env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")
            run(os.environ["KEEL_ASAN"], tmp, hostile, env)


if __name__ == "__main__":
    main(test)
