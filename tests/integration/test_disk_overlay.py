#!/usr/bin/env python3
"""The copy-on-write disk overlay (docs/disk-overlay.md) under a real
guest: the guest's writes land in the overlay and survive a reboot, the
base is never written, `keel disk convert` gives a raw image that
fsck.ext4 finds clean and that holds the guest's file, `keel disk check`
and a boot both cope with a torn tail, and a changed base is refused."""
import hashlib
import os
import shutil
import subprocess
import tempfile

from guestlib import boot_args, boot_disk_and, check, guest_files, keel_path, main


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def keel_disk(*args, expect=0):
    p = subprocess.run([keel_path(), "disk"] + list(args), capture_output=True, text=True,
                       timeout=300)
    check(p.returncode == expect,
          f"keel disk {' '.join(args)}: exit {p.returncode}, wanted {expect}\n{p.stdout}{p.stderr}")
    return p.stdout + p.stderr


def test():
    with tempfile.TemporaryDirectory() as tmp:
        base = os.path.join(tmp, "base.ext4")
        overlay = os.path.join(tmp, "disk.kov")
        shutil.copyfile(guest_files()["rootfs"], base)
        base_sum = sha(base)
        token = f"overlay-{os.getpid()}"

        boot_disk_and(f"{base},overlay={overlay}", [f"echo {token} > /root/keel-test.txt", "sync"])
        check(sha(base) == base_sum, "the guest's writes reached the base image")
        check(os.path.getsize(overlay) > 4096, "nothing was appended to the overlay")
        ((out, rc),), _ = boot_disk_and(overlay, ["cat /root/keel-test.txt"])
        check(rc == 0 and token in out, f"file lost across boots on the overlay: {out!r}")

        info = keel_disk("info", overlay)
        check(base in info and "torn tail:     none" in info, f"keel disk info:\n{info}")
        keel_disk("check", overlay)

        raw = os.path.join(tmp, "flat.ext4")
        err = keel_disk("convert", overlay, raw)
        check("100%" in err, f"no progress from convert: {err!r}")
        fsck = subprocess.run(["fsck.ext4", "-n", "-f", raw], capture_output=True, text=True)
        check(fsck.returncode == 0, f"fsck.ext4 -n on the converted image: {fsck.returncode}\n"
                                    f"{fsck.stdout}{fsck.stderr}")
        dbg = subprocess.run(["debugfs", "-R", "cat /root/keel-test.txt", raw],
                             capture_output=True, text=True)
        check(token in dbg.stdout, f"the guest's file is not in the converted image: {dbg.stdout!r}")
        keel_disk("convert", overlay, raw, expect=1)  # never over an existing file
        check(sha(base) == base_sum, "convert or check wrote the base")

        # A crash mid-append: check says so, a boot drops the torn tail and
        # the guest's file is still there.
        good = os.path.getsize(overlay)
        with open(overlay, "ab") as f:
            f.write(b"KREC" + os.urandom(1500))
        out = keel_disk("check", overlay, expect=1)
        check("1504 bytes at offset" in out, f"check missed the torn tail:\n{out}")
        ((out, rc),), err = boot_disk_and(overlay, ["cat /root/keel-test.txt"])
        check("dropped 1504 bytes" in err, f"no word about the torn tail: {err!r}")
        check(rc == 0 and token in out, f"file lost after a torn tail: {out!r}")
        check(os.path.getsize(overlay) >= good, "intact records were dropped")

        # The base changed under the overlay: refused, naming the files.
        with open(base, "r+b") as f:
            f.seek(2 << 20)
            f.write(b"changed")
        p = subprocess.run([keel_path(), "run"] + boot_args(disk=overlay), capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL)
        check(p.returncode == 1 and "base.ext4 has changed" in p.stderr and overlay in p.stderr,
              f"changed base: exit {p.returncode}: {p.stderr!r}")


if __name__ == "__main__":
    main(test)
