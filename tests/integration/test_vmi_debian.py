#!/usr/bin/env python3
"""Introspection (docs/vmi.md) on the second kernel: the Debian guest with
Debian's own 6.12 kernel (loadable modules, SMP, group scheduling, IPv6,
the 6.4+ kallsyms layout, the 6.8+ mount tree), unchanged code, nothing
entered by hand.  Part of make test-debian.

 1. Boot to multi-user, log in on the console; in the guest start a
    process with 4 threads and an IPv6 connection to nginx, then print
    ps, /proc/net/tcp and tcp6, /proc/mounts, /proc/modules, the threaded
    process's /proc/PID/task and the shell's descriptors, and block.
    Paused, keel must agree with each (the printing commands aside), its
    cross-view must be consistent with all three sources (task list, PID
    IDR, run queues), and a snapshot of the same state must give the same
    rows offline.
 2. A rootkit-like module built for this kernel from Debian packages
    (guest/build-module guest/modules/keel_hide.c) unlinks a busy process
    from the task list and its pid from the PID IDR, and takes itself off
    the module list: the guest's ps (/proc is built from the IDR) loses
    the process, lsmod the module, keel's ps the process; keel's
    cross-view reports the process hidden by pid and comm (found on a run
    queue alone) and its modules view reports the module hidden (in
    /sys/module only).

Every keel started here is killed at the end."""
import json
import os
import re
import subprocess
import tempfile

import debianlib as deb
from guestlib import REPO, Guest, check, free_port, main
from vmilib import (clean, compare_modules, compare_mounts, compare_ps, compare_tcp,
                    inspect_live, keel, parse_proc_net_tcp, parse_ps, section)

# Mounts above the root the guest switched to: keel reads the namespace,
# /proc/mounts only what lies under the reader's root.
ABOVE_ROOT = {("rootfs", "/", "rootfs")}
# The commands that printed the listings, gone by the time keel looks.
TRANSIENT = ("ps", "cat", "ls")

THREADS = ("python3 -c 'import threading, time; [threading.Thread(target=time.sleep, "
           "args=(10000,)).start() for _ in range(3)]; time.sleep(10000)' &")


def build_module(d):
    """guest/build-module keel_hide.c: the .ko's path (cached)."""
    p = subprocess.run([os.path.join(REPO, "guest/build-module"),
                        os.path.join(REPO, "guest/modules/keel_hide.c")],
                       capture_output=True, text=True, timeout=3600,
                       env={**os.environ, "KEEL_DEBIAN_DIR": d})
    check(p.returncode == 0, f"guest/build-module: {p.stderr[-2000:]}")
    ko = p.stdout.strip().splitlines()[-1]
    check(os.path.isfile(ko), f"no module at {ko!r}")
    return ko


# systemd-udevd's workers idle out on their own a few seconds after the
# last event, so the process list would change between the guest's
# listing and keel's look: wait until they have gone.
QUIESCE = ("udevadm settle; for i in $(seq 300); do pgrep -f udev-worker >/dev/null || break; "
           "sleep 1; done")


def check_views(g, sock, tmp):
    g.run(QUIESCE, timeout=600)
    out, rc = g.run(THREADS + " echo threads=$!")
    py = int(re.search(r"threads=(\d+)", out).group(1))
    # python starts its threads seconds later under emulation
    g.run(f"for i in $(seq 300); do [ $(ls /proc/{py}/task | wc -l) = 4 ] && break; sleep 1; done",
          timeout=600)
    # an IPv6 connection held open by a subshell (which execs the sleep)
    g.run("(exec 3<>/dev/tcp/::1/80; sleep 10000) & sleep 2")
    start = len(g.text())
    g.send(f"echo @PS; ps -e -o pid,ppid,comm; echo @TCP; cat /proc/net/tcp /proc/net/tcp6; "
           f"echo @MOUNTS; cat /proc/mounts; echo @MODS; cat /proc/modules; echo @TASKS; "
           f"ls /proc/{py}/task; echo @FD $$; ls -l /proc/$$/fd; echo @END; read x\n")
    g.expect("@END\r?\n", 300, start)
    text = clean(g.text()[start:])
    check(keel("ctl", "--sock", sock, "pause")[0] == 0, "pause")

    info = inspect_live(sock, "info")
    check(info["refused_views"] == [], f"views refused on Debian's kernel: {info}")
    ps = inspect_live(sock, "ps")
    ours, differ = compare_ps(parse_ps(section(text, "@PS\n", "@TCP")), ps, TRANSIENT)
    check(ps["rows"][0]["comm"] == "systemd" and ps["rows"][0]["exe"] == "/usr/lib/systemd/systemd",
          f"pid 1: {ps['rows'][0]}")
    check(next(r for r in ps["rows"] if r["pid"] == py)["threads"] == 4, "python3's thread count")

    net = inspect_live(sock, "net")
    tcp = compare_tcp(parse_proc_net_tcp(section(text, "@TCP\n", "@MOUNTS")), net)
    check(("[::]:22", "[::]:0", "LISTEN") in tcp and ("[::]:80", "[::]:0", "LISTEN") in tcp and
          any(s[0] == "[::1]:80" and s[1].startswith("[::1]:") for s in tcp),
          f"sshd's and nginx's IPv6 listeners or the IPv6 connection missing: {tcp}")
    owners = {r["comm"] for r in net["rows"] if r["proto"] == "tcp6"}
    check({"sshd", "nginx", "sleep"} <= owners, f"IPv6 socket owners: {owners}")

    compare_mounts(section(text, "@MOUNTS\n", "@MODS"), inspect_live(sock, "mounts"), ABOVE_ROOT)
    compare_modules(section(text, "@MODS\n", "@TASKS"), inspect_live(sock, "modules"))

    tids = {int(t) for t in section(text, "@TASKS\n", "@FD").split()}
    threads = inspect_live(sock, "threads", str(py))
    check({r["pid"] for r in threads["rows"]} == tids and len(tids) == 4 and
          all(r["tgid"] == py for r in threads["rows"]),
          f"threads of {py}: ours {threads['rows']}, the guest's {tids}")

    fd_text = section(text, "@FD ", "@END")
    sh = int(fd_text.split()[0])
    theirs_fd = {int(m.group(1)): m.group(2) for m in re.finditer(r" (\d+) -> (\S+)", fd_text)}
    files = inspect_live(sock, "files", str(sh))
    ours_fd = {r["fd"]: r["path"] for r in files["rows"]}
    # ls opened the directory it lists; the shell had no such descriptor
    check(ours_fd == {fd: p for fd, p in theirs_fd.items() if fd in ours_fd} and
          len(set(theirs_fd) - set(ours_fd)) <= 1 and 0 in ours_fd,
          f"descriptors of the shell: ours {ours_fd}, the guest's {theirs_fd}")

    cross = inspect_live(sock, "crossview")
    # the run queues were read (every CPU's, into task groups); the guest
    # idles in `read`, so they may hold nothing: keel_hide's busy process
    # below must be found there
    check(cross["consistent"] and cross["run_queues"] and not cross["truncated"],
          f"cross-view: {cross['hidden']} hidden, {cross['not_in_idr']} not in the IDR, "
          f"notes {cross['notes']}")
    integ = inspect_live(sock, "integrity")
    check(integ["kernel_sha256"] and len(integ["rows"]) == 3, f"integrity: {integ}")
    ifaces = {r["name"]: r for r in inspect_live(sock, "ifaces")["rows"]}
    check("LOOPBACK" in ifaces["lo"]["flags"] and "UP" in ifaces["eth0"]["flags"] and
          ifaces["eth0"]["addr"] == "52:54:00:12:34:56", f"ifaces: {ifaces}")

    # the same state saved and read offline
    snap = os.path.join(tmp, "deb.keel")
    check(keel("ctl", "--sock", sock, "snapshot", snap, timeout=600)[0] == 0, "snapshot")
    for view in (["ps"], ["net"], ["modules"], ["mounts"], ["threads", str(py)]):
        rc, out, err = keel("inspect", snap, *view, "--json", timeout=600)
        check(rc == 0 and json.loads(out)["rows"] == inspect_live(sock, *view)["rows"],
              f"keel inspect {view} on the snapshot differs from the live VM: {err}")
    os.unlink(snap)
    check(keel("ctl", "--sock", sock, "resume")[0] == 0, "resume")
    g.send("\n")
    print(f"views: {len(ours)} processes, {len(tcp)} TCP sockets (IPv6 too), "
          f"{len(inspect_live(sock, 'modules')['rows'])} modules, 4 threads, mounts, "
          f"descriptors: as the guest's own tools say; cross-view consistent over 3 sources")


def check_hidden(g, sock, d, ko):
    """keel_hide unlinks a busy shell and itself."""
    with open(ko, "rb") as f:
        data = f.read()
    port = g.ssh_port
    p = subprocess.run(["ssh", "-p", str(port), "-i", deb.files(d)["id_ed25519"],
                        "-o", f"UserKnownHostsFile={deb.files(d)['known_hosts']}",
                        "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
                        "root@127.0.0.1", "cat > /root/keel_hide.ko"],
                       input=data, capture_output=True, timeout=300)
    check(p.returncode == 0, f"copying the module in: {p.stderr[-500:]}")
    # unhash=1 takes its pid out of the IDR too, so it cannot be killed by
    # pid: it stops when /root/stop-busy appears
    out, rc = g.run("rm -f /root/stop-busy; sh -c 'while [ ! -e /root/stop-busy ]; do :; done' & "
                    "echo busy=$!")
    busy = int(re.search(r"busy=(\d+)", out).group(1))
    out, rc = g.run(f"insmod /root/keel_hide.ko pid={busy} unhash=1 hide_self=1 && echo loaded; "
                    f"ps -e -o pid | grep -cw {busy}; grep -c keel_hide /proc/modules; "
                    f"ls -d /sys/module/keel_hide", timeout=300)
    # the kernel's own messages share the console
    lines = [l for l in out.split("\n") if l.strip() and not re.match(r"\[ *\d+\.\d+\]", l)]
    # /proc is read through the PID IDR (next_tgid), which lost the pid:
    # the guest's ps no longer lists the process; lsmod reads the module
    # list and loses the module
    check(len(lines) == 4 and lines == ["loaded", "0", "0", "/sys/module/keel_hide"],
          f"in the guest after insmod (ps and lsmod must lose them): {out!r}")
    check(keel("ctl", "--sock", sock, "pause")[0] == 0, "pause")
    cross = inspect_live(sock, "crossview")
    row = next((r for r in cross["rows"] if r["pid"] == busy), None)
    check(cross["hidden"] == [busy] and not cross["consistent"] and row and
          row["comm"] == "sh" and not row["task_list"] and not row["pid_idr"] and
          row["run_queue"],
          f"cross-view of hidden pid {busy}: {cross['hidden']} {row}")
    ps = inspect_live(sock, "ps")
    check(busy not in [r["pid"] for r in ps["rows"]], f"ps still lists the unlinked pid {busy}")
    mods = inspect_live(sock, "modules")
    hid = [r for r in mods["rows"] if r["name"] == "keel_hide"]
    check(mods["hidden"] == ["keel_hide"] and len(hid) == 1 and hid[0]["sysfs"] and
          not hid[0]["module_list"], f"modules: {mods['hidden']} {hid}")
    check(keel("ctl", "--sock", sock, "resume")[0] == 0, "resume")
    # it stops on its own, exits, and is gone everywhere
    g.run("touch /root/stop-busy; sleep 2")
    cross = inspect_live(sock, "crossview")
    check(cross["consistent"] and busy not in [r["pid"] for r in cross["rows"]],
          f"after the hidden process exited: {cross['hidden']}")
    print(f"hidden: keel_hide unlinked pid {busy} (sh) from the task list and itself from the "
          f"module list and its pid from the IDR; the guest's ps and lsmod lost them; keel's ps "
          f"lost the pid, its cross-view found it on a run queue, its modules view the module "
          f"in /sys/module")


def test():
    d = deb.debian_dir()
    ko = build_module(d)
    with tempfile.TemporaryDirectory(prefix="keel-vmi-debian-") as tmp:
        sock = os.path.join(tmp, "k.sock")
        ssh_port = free_port()
        g = Guest(deb.boot_args(d, os.path.join(tmp, "deb.kov"), ssh_port, None,
                                ["--api-sock", sock]), timeout=1500)
        g.ssh_port = ssh_port
        try:
            deb.login(g)
            deb.system_state(g)
            check_views(g, sock, tmp)
            check_hidden(g, sock, d, ko)
        finally:
            g.kill()


if __name__ == "__main__":
    main(test)
