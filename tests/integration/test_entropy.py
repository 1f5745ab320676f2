#!/usr/bin/env python3
"""The guest reads /dev/hwrng (virtio-rng).  With --entropy-seed the bytes
are a reproducible stream, so two boots with the same seed read the same
bytes and a different seed reads different ones."""
import re

from guestlib import Guest, boot_args, check, main

READ = "head -c 32 /dev/hwrng | od -An -tx1 | tr -d ' \\n'"


def hwrng_bytes(seed):
    g = Guest(boot_args(append="console=ttyS0 keel.net=off", extra=["--entropy-seed", str(seed)]))
    try:
        g.wait_ready()
        out, rc = g.run("cat /sys/class/misc/hw_random/rng_current")
        check("virtio" in out, f"rng_current: {out!r}")
        out, rc = g.run(READ)
        m = re.search(r"[0-9a-f]{64}", out)
        check(rc == 0 and m, f"reading /dev/hwrng: rc={rc} {out!r}")
        g.send("poweroff -f\n")
        check(g.wait_exit(120) == 0, "poweroff")
        return m.group(0)
    finally:
        g.kill()


def test():
    a, b, c = hwrng_bytes(7), hwrng_bytes(7), hwrng_bytes(8)
    check(a != "00" * 32, "all-zero entropy")
    check(a == b, f"same seed, different bytes: {a} {b}")
    check(a != c, "different seeds, same bytes")


if __name__ == "__main__":
    main(test)
