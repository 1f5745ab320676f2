#!/usr/bin/env python3
"""The guest reads /dev/hwrng (virtio-rng), and what it reads comes from
the event boundary: with --entropy-seed N the bytes are a slice of keel's
documented seeded stream for N (src/vm/events.c, recomputed here), without
a seed they come from the host and are in no such stream.

The offset of the slice depends on how much the kernel's hwrng thread read
first, which depends on when the test types its command, so the test
searches the first MiB of the stream rather than expecting offset 0."""
import re

from guestlib import Guest, boot_args, check, main

READ = "head -c 32 /dev/hwrng | od -An -tx1 | tr -d ' \\n'"
MASK = (1 << 64) - 1


def seeded_stream(seed, length):
    """events.c's seeded_word(): splitmix64 of (seed, index), little-endian."""
    out = bytearray()
    for index in range(length // 8):
        z = (seed + (index + 1) * 0x9E3779B97F4A7C15) & MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out += (z ^ (z >> 31)).to_bytes(8, "little")
    return bytes(out)


def hwrng_bytes(extra):
    g = Guest(boot_args(append="console=ttyS0 keel.net=off", extra=extra))
    try:
        g.wait_ready()
        out, rc = g.run("cat /sys/class/misc/hw_random/rng_current")
        check("virtio" in out, f"rng_current: {out!r}")
        out, rc = g.run(READ)
        m = re.search(r"[0-9a-f]{64}", out)
        check(rc == 0 and m, f"reading /dev/hwrng: rc={rc} {out!r}")
        g.send("poweroff -f\n")
        check(g.wait_exit(120) == 0, "poweroff")
        return bytes.fromhex(m.group(0))
    finally:
        g.kill()


def test():
    stream7, stream8 = seeded_stream(7, 1 << 20), seeded_stream(8, 1 << 20)
    seeded = hwrng_bytes(["--entropy-seed", "7"])
    check(seeded in stream7, f"seed 7: {seeded.hex()} is not in the seeded stream")
    check(seeded not in stream8, "seed 7's bytes are in seed 8's stream")
    host = hwrng_bytes([])
    check(host != bytes(32), "all-zero entropy from the host")
    check(host not in stream7, "unseeded bytes came from the seeded stream")


if __name__ == "__main__":
    main(test)
