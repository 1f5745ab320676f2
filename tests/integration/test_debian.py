#!/usr/bin/env python3
"""The Debian guest (Debian 13 riscv64, Debian's own kernel, systemd) under
keel, as a person uses it (docs/guest.md, "The Debian guest"):

  --smoke   (make test) Debian's kernel and initramfs mount the image and
            run /bin/sh as PID 1 (init=/bin/sh): the kernel, its modules
            from the initramfs (virtio-mmio, virtio-blk, virtio-net), ext4;
            then the kernel's own power-off through sysrq ends keel with 0.
  (default) (make test-debian) the whole system:
   1. boot to a console login prompt, log in as root without a password;
      `systemctl is-system-running` says running (or degraded with only
      the units docs/guest.md explains failed);
   2. ssh in with the generated key (host key checked) and run a command;
      fetch nginx's page from the host;
   3. clone the running guest with its own forward and ssh into the
      clone: a file written there is not in the parent;
   4. `poweroff` in the parent ends keel with exit 0;
   5. `keel record` a session (console login, ssh login writing a file,
      HTTP request, poweroff) and `keel replay` it 3 times: each replay
      prints exactly the recorded console output and matches every
      checkpoint digest.

Every keel started here is killed at the end, clones included."""
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile
import time

import debianlib as deb
import vmilib as vmi
from guestlib import Guest, GuestError, check, free_port, keel_path, main
from test_clone import clone, wait_for_socket

REPLAYS = int(os.environ.get("KEEL_DEBIAN_REPLAYS", "3"))


def test_smoke(d, tmp):
    f = deb.files(d)
    with open(f["cmdline"]) as c:
        append = c.read().strip() + " init=/bin/sh"
    sock = os.path.join(tmp, "smoke.sock")
    g = Guest(["--kernel", f["Image"], "--initrd", f["initrd.img"], "--append", append,
               "-m", "1G", "--disk", f"{f['rootfs.ext4']},overlay={tmp}/smoke.kov",
               "--net", "none", "--api-sock", sock], timeout=1200)
    try:
        g.expect(r"\n# ", 1200)
        out, rc = g.run("cat /etc/debian_version; uname -r; "
                        "grep -c . /proc/modules; mount | grep ' / '")
        check(rc == 0 and re.search(r"^13", out, re.M), f"not Debian 13: {out!r}")
        check("+deb13-riscv64" in out, f"not Debian's kernel: {out!r}")
        check("/dev/vda on / type ext4" in out, f"root not the ext4 disk: {out!r}")
        out, rc = g.run("ls /sys/bus/virtio/drivers")
        for drv in ("virtio_blk", "virtio_net"):
            check(drv in out, f"{drv} not loaded from the initramfs: {out!r}")
        vmi_smoke(g, sock)
        g.send("echo o > /proc/sysrq-trigger\n")
        status = g.wait_exit(300)
        check(status == 0, f"keel exited {status} after the kernel's power-off")
    finally:
        g.kill()
    print("smoke: Debian's kernel + initramfs mounted the image, ran /bin/sh, powered off; "
          "keel's ps, modules and mounts equal the guest's")


def vmi_smoke(g, sock):
    """Introspection on Debian's kernel (docs/vmi.md), the quick part of
    test_vmi_debian.py: the guest prints ps, /proc/modules and
    /proc/mounts and blocks; keel, paused, must agree, with no view
    refused and a consistent cross-view."""
    start = len(g.text())
    g.send("echo @PS; ps -e -o pid,ppid,comm; echo @MODS; cat /proc/modules; echo @MOUNTS; "
           "cat /proc/mounts; echo @END; read x\n")
    g.expect("@END\r?\n", 300, start)
    text = vmi.clean(g.text()[start:])
    check(vmi.keel("ctl", "--sock", sock, "pause")[0] == 0, "pause")
    info = vmi.inspect_live(sock, "info")
    check(info["refused_views"] == [], f"views refused on Debian's kernel: {info}")
    vmi.compare_ps(vmi.parse_ps(vmi.section(text, "@PS\n", "@MODS")),
                   vmi.inspect_live(sock, "ps"), ("ps",))
    vmi.compare_modules(vmi.section(text, "@MODS\n", "@MOUNTS"), vmi.inspect_live(sock, "modules"))
    vmi.compare_mounts(vmi.section(text, "@MOUNTS\n", "@END"), vmi.inspect_live(sock, "mounts"),
                       {("rootfs", "/", "rootfs")})
    cross = vmi.inspect_live(sock, "crossview")
    check(cross["consistent"] and cross["run_queues"], f"cross-view: {cross}")
    check(vmi.keel("ctl", "--sock", sock, "resume")[0] == 0, "resume")
    g.send("\n")


def test_system(d, tmp):
    sock = os.path.join(tmp, "deb.sock")
    ssh_port, http_port, clone_port = free_port(), free_port(), free_port()
    g = Guest(deb.boot_args(d, os.path.join(tmp, "deb.kov"), ssh_port, http_port,
                            ["--api-sock", sock]), timeout=1500)
    start = time.monotonic()
    try:
        api = wait_for_socket(sock, g.proc)
        deb.login(g)
        login_s = time.monotonic() - start
        state = deb.system_state(g)
        print(f"boot: login prompt after {login_s:.0f} s, multi-user after "
              f"{time.monotonic() - start:.0f} s (wall)")
        out = deb.ssh(d, ssh_port, "uname -r; systemctl is-active ssh nginx; hostname")
        check("+deb13-riscv64" in out and out.count("active") == 2 and "keel-debian" in out,
              f"over ssh: {out!r}")
        page = deb.http_get(http_port)
        check("keel debian guest" in page, f"nginx page: {page[:300]!r}")
        print(f"system: {state}; ssh ran a command; nginx served its page")

        c = clone(api, tmp, "deb-clone", net=f"user,hostfwd=tcp:127.0.0.1:{clone_port}-:22")
        out = deb.ssh(d, clone_port, "echo in-clone > /root/clone-only; hostname; "
                      "cat /root/clone-only")
        check("in-clone" in out, f"ssh into the clone: {out!r}")
        out, rc = g.run("ls /root/clone-only")
        check(rc != 0, f"the clone's file appeared in the parent: {out!r}")
        c.quit()
        print("clone: ssh into the clone on its own forward; its file stayed its own")

        deb.poweroff(g)
        print("poweroff: keel exited 0")
    finally:
        g.kill()


def test_record_replay(d, tmp):
    log = os.path.join(tmp, "log")
    ssh_port, http_port = free_port(), free_port()
    args = deb.boot_args(d, os.path.join(tmp, "rec.kov"), ssh_port, http_port)
    g = Guest([], command=[keel_path(), "record", "--log", log] + args, timeout=1500)
    try:
        deb.login(g)
        out = deb.ssh(d, ssh_port, "echo recorded-$((6*7)) > /root/rec.txt; sync; "
                      "cat /root/rec.txt")
        check("recorded-42" in out, f"ssh in the recording: {out!r}")
        page = deb.http_get(http_port)
        check("keel debian guest" in page, "nginx in the recording")
        out, rc = g.run("cat /root/rec.txt")
        check("recorded-42" in out, f"console after ssh: {out!r}")
        deb.poweroff(g)
        recorded = g.output
    finally:
        g.kill()
    def replay(i):
        p = subprocess.run([keel_path(), "replay", log], capture_output=True, timeout=3600)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")
    # Two at a time: CI has two cores.
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(replay, range(REPLAYS)))
    for i, (rc, out, err) in enumerate(results):
        check(rc == 0 and "checkpoints matched" in err, f"replay {i}: exit {rc}: {err[-2000:]}")
        check(out == recorded, f"replay {i}: console output differs "
              f"({len(out)} bytes, recorded {len(recorded)})")
        print(f"replay {i}: identical console, {err.strip().splitlines()[-1]}")


def test():
    # Importing test_clone registered its atexit hook that kills every
    # clone in CLONE_PIDS, the ones made here too.
    d = deb.debian_dir()
    with tempfile.TemporaryDirectory(prefix="keel-debian-") as tmp:
        if "--smoke" in sys.argv:
            test_smoke(d, tmp)
            return
        test_system(d, tmp)
        test_record_replay(d, tmp)


if __name__ == "__main__":
    main(test)
