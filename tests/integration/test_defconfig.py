#!/usr/bin/env python3
"""An unpatched kernel from Linux's riscv `defconfig` (SMP, many more
drivers) boots on keel's single hart to the default guest's initramfs
shell.  Not part of `make test`: building that kernel takes ~45 minutes on
two cores, which does not fit CI's budget.  Run it with
`make test-defconfig`."""
import os
import subprocess

from guestlib import REPO, Guest, check, guest_files, main


def defconfig_image():
    d = os.environ.get("KEEL_DEFCONFIG_DIR")
    if not d:
        d = subprocess.run([os.path.join(REPO, "guest/build"), "--defconfig"], check=True,
                           stdout=subprocess.PIPE, text=True).stdout.strip()
    return os.path.join(d, "Image")


def test():
    args = ["--kernel", defconfig_image(), "--initrd", guest_files()["initrd"],
            "--append", "console=ttyS0 keel.net=off", "--disk", "none", "--idle-sleep", "off"]
    g = Guest(args, timeout=900)
    try:
        g.wait_ready()
        out, rc = g.run("uname -v")
        check(rc == 0 and "SMP" in out, f"not the SMP defconfig kernel: {out!r}")
        out, rc = g.run("cat /sys/devices/system/cpu/online")
        check(out.strip() == "0", f"online CPUs: {out!r}")
        g.send("poweroff -f\n")
        status = g.wait_exit(300)
        check(status == 0, f"keel exited {status}\n{g.stderr()}")
    finally:
        g.kill()


if __name__ == "__main__":
    main(test)
