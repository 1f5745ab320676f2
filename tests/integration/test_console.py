#!/usr/bin/env python3
"""Boot the default guest to its shell (initramfs only), run commands over
the console, check their output, and power off cleanly (keel exits 0)."""
from guestlib import Guest, boot_args, check, main


def test():
    g = Guest(boot_args(append="console=ttyS0 keel.net=off"))
    try:
        g.wait_ready()
        out, rc = g.run("echo hello-from-$((6*7))")
        check(rc == 0 and "hello-from-42" in out, f"echo: {out!r} rc={rc}")
        out, rc = g.run("uname -sr")
        check(rc == 0 and "Linux 6.1" in out, f"uname: {out!r}")
        out, rc = g.run("grep -m1 isa /proc/cpuinfo")
        check("rv64imafdc" in out, f"cpuinfo: {out!r}")
        out, rc = g.run("cat /www/index.html")
        check(rc == 0 and "keel" in out, f"web root: {out!r}")
        out, rc = g.run("false")
        check(rc == 1, f"false returned {rc}")
        g.send("poweroff -f\n")
        status = g.wait_exit(120)
        check(status == 0, f"keel exited {status} after poweroff\n{g.stderr()}")
    finally:
        g.kill()


if __name__ == "__main__":
    main(test)
