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
      checkpoint digest;
   6. state: snapshot a running guest and restore it on a copy of its
      overlay (the file written before is there, the one written after is
      not; ssh on the restored VM's own forward); suspend it encrypted
      and resume it (wrong passphrase refused; ssh again); migrate the
      resumed VM to another keel while an ssh session runs: the session
      ends with the source (slirp's connections do not move,
      docs/migrate.md "Network"), a fresh ssh reaches the moved guest on
      the destination's forward and finds the files.

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
from migratelib import Keel, keygen
from test_suspend import FdGuest, run_fd3

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


PASS = "debian pass phrase"


def test_state(d, tmp):
    f = deb.files(d)
    sock = os.path.join(tmp, "st.sock")
    ports = [free_port() for _ in range(4)]
    fwd = lambda p: ["--net", f"user,hostfwd=tcp:127.0.0.1:{p}-:22"]
    g = Guest(deb.boot_args(d, os.path.join(tmp, "st.kov"), ports[0], None,
                            ["--api-sock", sock]), timeout=1500)
    keels = [g]
    try:
        api = wait_for_socket(sock, g.proc)
        deb.login(g)
        deb.ssh(d, ports[0], "echo before-snap > /root/before; sync")
        snap = os.path.join(tmp, "deb.snap")
        r = api.call({"cmd": "snapshot", "path": snap})
        check(r["ok"], f"snapshot: {r}")
        out, rc = g.run("echo after-snap > /root/after; sync; cat /root/after")
        check("after-snap" in out, f"writing after the snapshot: {out!r}")

        # Restore on a copy of the overlay as it was (the original wrote on).
        rst = Guest(["--restore", snap, "--overlay", os.path.join(tmp, "restored.kov"),
                     "-m", "1G"] + fwd(ports[1]), timeout=600)
        keels.append(rst)
        out, rc = rst.run("cat /root/before; ls /root/after")
        check("before-snap" in out and rc != 0, f"the restored guest's files: {rc} {out!r}")
        out = deb.ssh(d, ports[1], "cat /root/before; hostname")
        check("before-snap" in out and "keel-debian" in out, f"ssh, restored: {out!r}")
        rst.kill()
        print(f"snapshot: restored on a copy of the overlay, ssh on its own forward "
              f"({os.path.getsize(snap) / 1e6:.0f} MB snapshot)")

        # Encrypted suspend and resume.
        sealed = os.path.join(tmp, "deb.sealed")
        rc, out, err = run_fd3([keel_path(), "ctl", "--sock", sock, "suspend", "--encrypt",
                                sealed, "--passphrase-fd", "3"], PASS)
        check(rc == 0 and '"ok": true' in out, f"suspend: {rc} {out} {err}")
        check(g.wait_exit(120) == 0, "keel did not exit after suspend")
        resume = [keel_path(), "run", "--restore", sealed, "--passphrase-fd", "3", "-m", "1G",
                  "--api-sock", os.path.join(tmp, "res.sock")] + fwd(ports[2])
        rc, _, err = run_fd3(resume, "not " + PASS)
        check(rc != 0 and "wrong passphrase" in err, f"wrong passphrase: {rc} {err!r}")
        res = FdGuest(resume, PASS, timeout=600)
        keels.append(res)
        api2 = wait_for_socket(os.path.join(tmp, "res.sock"), res.proc)
        out = deb.ssh(d, ports[2], "cat /root/before /root/after")
        check("before-snap" in out and "after-snap" in out, f"ssh, resumed: {out!r}")
        print("suspend: sealed, a wrong passphrase refused, resumed with ssh on a new forward")

        # Migrate the resumed VM while an ssh session runs.
        key = keygen(tmp, "deb.key")
        mport = free_port()
        dst = Keel(["--incoming", f"tcp:127.0.0.1:{mport}", "--key", key, "-m", "1G",
                    "--disk", f"{f['rootfs.ext4']},overlay={tmp}/moved.kov"] + fwd(ports[3]))
        keels.append(dst)
        dst.expect_err(r"waiting for a migration")
        session = subprocess.Popen(
            ["ssh", "-p", str(ports[2]), "-i", f["id_ed25519"],
             "-o", f"UserKnownHostsFile={f['known_hosts']}", "-o", "StrictHostKeyChecking=yes",
             "-o", "BatchMode=yes", "-o", "ServerAliveInterval=2",
             "-o", "ServerAliveCountMax=5", "root@127.0.0.1",
             "while :; do echo tick; sleep 1; done"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        first = session.stdout.readline()  # logged in, and ticking
        check(first.strip() == b"tick", f"the ssh session: {first!r}")
        p = subprocess.run([keel_path(), "ctl", "--sock", os.path.join(tmp, "res.sock"),
                            "migrate", f"tcp:127.0.0.1:{mport}", "--key", key],
                           capture_output=True, text=True, timeout=900)
        check(p.returncode == 0 and "migrated:" in p.stdout, f"migrate: {p.stdout} {p.stderr}")
        check(res.wait_exit(120) == 0, "the source did not quit after the migration")
        try:
            session.wait(60)
        except subprocess.TimeoutExpired:
            session.kill()
            check(False, "the ssh session through the source's slirp outlived its source")
        ticks = 1 + session.stdout.read().decode().count("tick")
        check(session.returncode != 0,
              f"ssh session: exit {session.returncode}: {session.stderr.read()!r}")
        out = deb.ssh(d, ports[3], "cat /root/before /root/after; systemctl is-active ssh")
        check("before-snap" in out and "after-snap" in out and "active" in out,
              f"ssh after the migration: {out!r}")
        print(f"migration: {p.stdout.strip()}; the ssh session through the source ended "
              f"(exit {session.returncode}, {ticks} ticks), a fresh ssh reached the moved guest")
        deb.poweroff(dst)
    finally:
        for k in keels:
            k.kill()


def test():
    # Importing test_clone registered its atexit hook that kills every
    # clone in CLONE_PIDS, the ones made here too.
    d = deb.debian_dir()
    with tempfile.TemporaryDirectory(prefix="keel-debian-") as tmp:
        if "--smoke" in sys.argv:
            test_smoke(d, tmp)
            return
        if "--state" in sys.argv:
            test_state(d, tmp)
            return
        test_system(d, tmp)
        test_record_replay(d, tmp)
        test_state(d, tmp)


if __name__ == "__main__":
    main(test)
