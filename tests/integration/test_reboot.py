#!/usr/bin/env python3
"""A guest reboot reloads the boot image kept in the machine (section BOOT
of docs/snapshot-format.md), not the files given at start: boot, save a
snapshot with `keel ctl snapshot`, restore it in a new process that is
given no kernel at all, `reboot -f` there, and the guest comes up again and
answers.  A reboot in the original process must work too."""
import os
import subprocess
import tempfile

from guestlib import Guest, boot_args, check, keel_path, main

APPEND = "console=ttyS0 keel.net=off"


def reboot_and_check(g):
    start = len(g.text())
    g.send("reboot -f\n")
    g.expect("keel-guest: ready", 300, start)
    g.expect("# ", 60, start)
    out, rc = g.run("echo again-$((40+2))")
    check(rc == 0 and "again-42" in out, f"no shell after the reboot: {out!r}")


def test():
    keel = keel_path()
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "api.sock")
        snap = os.path.join(tmp, "vm.snap")
        g = Guest(boot_args(append=APPEND, extra=["--api-sock", sock]))
        try:
            g.wait_ready()
            g.expect("# ")
            p = subprocess.run([keel, "ctl", "--sock", sock, "snapshot", snap],
                               capture_output=True, text=True, timeout=120)
            check(p.returncode == 0, f"snapshot failed: {p.stdout} {p.stderr}")
            reboot_and_check(g)
        finally:
            g.kill()
        r = Guest(["--restore", snap, "--idle-sleep", "off"])
        try:
            out, rc = r.run("echo restored")
            check("restored" in out, f"restored guest does not answer: {out!r}")
            reboot_and_check(r)
        finally:
            r.kill()


if __name__ == "__main__":
    main(test)
