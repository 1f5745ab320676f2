#!/usr/bin/env python3
"""A missing or corrupt kernel, disk or firmware file gives a clear error
naming the file and a non-zero exit, never a crash (a signal) or a hang."""
import os
import random
import subprocess
import tempfile

from guestlib import check, guest_files, keel_path, main


def run(args, timeout=120):
    p = subprocess.run([keel_path(), "run", "--idle-sleep", "off"] + args, capture_output=True,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stderr


def expect_error(args, needle, what):
    rc, err = run(args)
    check(rc > 0, f"{what}: exit status {rc} (negative = killed by a signal)\n{err}")
    check(needle in err, f"{what}: message does not mention {needle!r}: {err!r}")


def test():
    f = guest_files()
    with tempfile.TemporaryDirectory() as tmp:
        garbage = os.path.join(tmp, "garbage.bin")
        with open(garbage, "wb") as fh:
            # Seeded, so what the garbage does when run is the same every time.
            fh.write(random.Random(1).randbytes(200000))
        empty = os.path.join(tmp, "empty")
        open(empty, "wb").close()
        truncated = os.path.join(tmp, "Image.truncated")
        with open(f["kernel"], "rb") as src, open(truncated, "wb") as dst:
            dst.write(src.read(40))
        missing = os.path.join(tmp, "missing")
        base = ["--initrd", f["initrd"]]
        expect_error(["--kernel", missing] + base, missing, "missing kernel")
        expect_error(["--kernel", garbage] + base, garbage, "corrupt kernel")
        expect_error(["--kernel", truncated] + base, truncated, "truncated kernel")
        expect_error(["--kernel", f["kernel"], "--initrd", missing], missing, "missing initrd")
        expect_error(["--kernel", f["kernel"], "--disk", missing] + base, missing, "missing disk")
        expect_error(["--kernel", f["kernel"], "--disk", tmp] + base, tmp, "disk is a directory")
        expect_error(["--bios", missing, "--kernel", f["kernel"]] + base, missing, "missing firmware")
        expect_error(["--bios", empty, "--kernel", f["kernel"]] + base, empty, "empty firmware")
        # Garbage firmware runs and traps at once; keel must say so and stop.
        expect_error(["--bios", garbage, "--kernel", f["kernel"]] + base, "trap loop",
                     "corrupt firmware")
        expect_error(["--bios", "none", "--kernel", garbage], garbage, "corrupt bare-metal ELF")
        expect_error(["--kernel", f["kernel"], "--net", "user,hostfwd=bogus"] + base, "hostfwd",
                     "bad --net")


if __name__ == "__main__":
    main(test)
