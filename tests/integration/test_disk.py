#!/usr/bin/env python3
"""With the ext4 root on virtio-blk, a file written in one boot is there
after the next, and fsck.ext4 -n finds the image clean afterwards."""
import os
import shutil
import subprocess
import tempfile

from guestlib import boot_disk_and, check, guest_files, main


def test():
    with tempfile.TemporaryDirectory() as tmp:
        disk = os.path.join(tmp, "disk.ext4")
        shutil.copyfile(guest_files()["rootfs"], disk)
        token = f"persisted-{os.getpid()}"
        boot_disk_and(disk, [f"echo {token} > /root/keel-test.txt", "sync"])
        ((out, rc),), _ = boot_disk_and(disk, ["cat /root/keel-test.txt"])
        check(rc == 0 and token in out, f"file lost across boots: {out!r}")
        fsck = subprocess.run(["fsck.ext4", "-n", "-f", disk], capture_output=True, text=True)
        check(fsck.returncode == 0, f"fsck.ext4 -n: {fsck.returncode}\n{fsck.stdout}{fsck.stderr}")


if __name__ == "__main__":
    main(test)
