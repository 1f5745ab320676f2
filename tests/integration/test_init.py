#!/usr/bin/env python3
"""The default guest behaves like Linux at its console: plain `poweroff`
and `halt` (no -f) end keel with status 0, and `reboot` boots the guest
again (busybox init is PID 1, guest/init execs it).  And `keel run` with
no --kernel finds a guest by name in ${XDG_CACHE_HOME}/keel/guest/NAME
(the link guest/build keeps), using the directory's `cmdline` file when
there is no --append, and sets aside the disk overlay of an older build
of the guest instead of refusing to start."""
import os
import shutil
import subprocess
import tempfile

from guestlib import Guest, boot_args, check, guest_dir, keel_path, main

APPEND = "console=ttyS0 keel.net=off"


def expect_exit_0(g, what):
    status = g.wait_exit(120)
    check(status == 0, f"keel exited {status} after {what}\n{g.stderr()}\n{g.text()[-2000:]}")


def plain_poweroff():
    g = Guest(boot_args(append=APPEND))
    try:
        g.wait_ready()
        g.expect("# ")
        out, rc = g.run("tr '\\0' ' ' </proc/1/cmdline")
        check(out.strip() == "busybox init", f"PID 1 is not busybox init: {out!r}")
        g.send("poweroff\n")
        expect_exit_0(g, "poweroff")
    finally:
        g.kill()


def reboot_then_halt():
    g = Guest(boot_args(append=APPEND))
    try:
        g.wait_ready()
        g.expect("# ")
        start = len(g.text())
        g.send("reboot\n")
        g.expect("keel-guest: init on the", 300, start)  # a new boot
        g.expect("keel-guest: ready", 300, start)
        g.expect("# ", 60, start)
        out, rc = g.run("echo again-$((40+2))")
        check(rc == 0 and "again-42" in out, f"no shell after the reboot: {out!r}")
        g.send("halt\n")
        expect_exit_0(g, "halt")
    finally:
        g.kill()


def run_by_name():
    """keel run finds guests by name under XDG_CACHE_HOME, with no
    KEEL_GUEST_DIR; the overlay goes under XDG_STATE_HOME."""
    real = guest_dir()
    with tempfile.TemporaryDirectory() as tmp:
        guests = os.path.join(tmp, "cache/keel/guest")
        os.makedirs(guests)
        os.symlink(real, os.path.join(guests, "default"))
        other = os.path.join(guests, "other")
        os.makedirs(other)
        for f in ("Image", "initramfs.cpio.gz"):
            os.symlink(os.path.join(real, f), os.path.join(other, f))
        with open(os.path.join(other, "cmdline"), "w") as f:
            f.write(APPEND + " keel.poweroff\n")
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache"),
                   XDG_STATE_HOME=os.path.join(tmp, "state"))
        env.pop("KEEL_GUEST_DIR", None)

        def keel_run(*args):
            return subprocess.run([keel_path(), "run", "--idle-sleep", "off", *args], env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=300)

        # the default guest, with its disk under an overlay in XDG_STATE_HOME
        p = keel_run("--append", APPEND + " keel.poweroff")
        check(p.returncode == 0 and "keel-guest: ready" in p.stdout,
              f"keel run (default guest): {p.returncode}\n{p.stderr}\n{p.stdout[-2000:]}")
        check("on the disk root" in p.stdout, f"not booted from the disk: {p.stdout[-2000:]}")
        check(os.path.exists(os.path.join(tmp, "state/keel/disk.kov")), "no overlay made")
        # guest/build made another build: the old overlay is set aside
        rebuilt = os.path.join(tmp, "rebuilt")
        os.makedirs(rebuilt)
        for f in ("Image", "initramfs.cpio.gz"):
            os.symlink(os.path.join(real, f), os.path.join(rebuilt, f))
        shutil.copy(os.path.join(real, "rootfs.ext4"), rebuilt)
        os.unlink(os.path.join(guests, "default"))
        os.symlink(rebuilt, os.path.join(guests, "default"))
        p = keel_run("--append", APPEND + " keel.poweroff")
        kept = os.path.join(tmp, "state/keel", f"disk-{os.path.basename(os.path.realpath(real))}.kov")
        check(p.returncode == 0 and "old disk overlay" in p.stderr and os.path.exists(kept),
              f"after a rebuild: {p.returncode}\n{p.stderr}\n{p.stdout[-1000:]}")
        # another guest by name: its cmdline file is the command line
        p = keel_run("--guest", "other")
        check(p.returncode == 0 and "keel.poweroff given" in p.stdout,
              f"keel run --guest other: {p.returncode}\n{p.stderr}\n{p.stdout[-2000:]}")
        # a guest that is not there, and a name that is not one
        p = keel_run("--guest", "debian")
        check(p.returncode != 0 and "guest/build --debian" in p.stderr,
              f"--guest debian (missing): {p.returncode} {p.stderr!r}")
        p = keel_run("--guest", "../other")
        check(p.returncode != 0 and "not a guest name" in p.stderr,
              f"--guest ../other: {p.returncode} {p.stderr!r}")


def test():
    plain_poweroff()
    reboot_then_halt()
    run_by_name()


if __name__ == "__main__":
    main(test)
