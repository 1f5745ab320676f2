#!/usr/bin/env python3
"""Introspection (docs/vmi.md) against the guest's own tools.

Boot the default guest with a control socket and an event stream; in the
guest, start a listener and a connection, wait until the shell's children
have all exec'd (vmilib.SETTLE_SH), then print `ps -o pid,ppid,comm`,
/proc/net/tcp, /proc/mounts and the shell's descriptors, and block in the
shell's `read` builtin (no new process).  Then, with the guest paused:
`keel ctl inspect` must find the same processes (the printing `ps` aside),
the same TCP sockets, the same mounts and the same descriptors; the
cross-view must be consistent, and must find a process hidden (unlinked
from the task list) in a copy of the snapshot; the kernel hash must not change; a snapshot
inspected with `keel inspect` must give what the live VM gave.  The event
stream for a known script must hold its exec/open/exit events in order.
Last, on a recording: `keel replay --vmi-events` must give exactly the
recording's event stream, and `keel replay --until N --inspect ps` must
find the process started before N."""
import json
import os
import re
import subprocess
import tempfile

from guestlib import Guest, boot_args, check, keel_path, main
from vmilib import (clean, compare_mounts, compare_ps, compare_tcp, inspect_live, keel,
                    parse_proc_net_tcp, parse_ps, section, settle, user_rows_whole)

APPEND = "console=ttyS0 keel.net=off"


def check_against_guest(g, sock):
    out, rc = g.run("ifconfig lo promisc")
    check(rc == 0, f"ifconfig lo promisc: {out!r}")
    settle(g)
    g.run("sleep 1000 | nc -l -p 5555 >/dev/null & sleep 1; sleep 1000 | nc 127.0.0.1 5555 & "
          "sleep 1")
    start = len(g.text())
    g.send("settle; echo @PS; ps -o pid,ppid,comm; echo @TCP; cat /proc/net/tcp; echo @MOUNTS; "
           "cat /proc/mounts; echo @FD $$; ls -l /proc/$$/fd; echo @END; read x\n")
    g.expect("@END\r?\n", 60, start)
    text = clean(g.text()[start:])
    check(keel("ctl", "--sock", sock, "pause")[0] == 0, "pause")

    # processes: the guest's ps against the task list (the printing ps aside)
    theirs = parse_ps(section(text, "@PS\n", "@TCP"))
    check(any(c == "ps" for _, c in theirs.values()), f"no ps in the guest's listing: {theirs}")
    ps = inspect_live(sock, "ps")
    ours, differ = compare_ps(theirs, ps)
    user_rows_whole(ps)
    user = [r for r in ps["rows"] if not r["kthread"]]
    check(all(r["exe"] == "/bin/busybox" for r in user), f"exe not busybox: {user}")

    # sockets: /proc/net/tcp against the descriptors' sockets
    net = inspect_live(sock, "net")
    ours_tcp = compare_tcp(parse_proc_net_tcp(section(text, "@TCP\n", "@MOUNTS")), net)
    check(any(s[0].endswith(":5555") and s[2] == "ESTABLISHED" for s in ours_tcp) and
          any(s[0].endswith(":80") and s[2] == "LISTEN" for s in ours_tcp),
          f"the test's connection is missing: {ours_tcp}")
    owners = {r["comm"] for r in net["rows"] if r["proto"] == "tcp"}
    check({"httpd", "nc"} <= owners, f"socket owners: {owners}")

    compare_mounts(section(text, "@MOUNTS\n", "@FD"), inspect_live(sock, "mounts"))

    # the shell's descriptors against ls -l /proc/$$/fd
    fd_text = section(text, "@FD ", "@END")
    sh_pid = int(fd_text.split()[0])
    theirs_fd = {int(m.group(1)): m.group(2) for m in
                 re.finditer(r" (\d+) -> (\S+)", fd_text)}
    files = inspect_live(sock, "files", str(sh_pid))
    ours_fd = {r["fd"]: r["path"] for r in files["rows"]}
    # ls itself opened the directory it lists; the shell had no such fd
    check(ours_fd == {fd: p for fd, p in theirs_fd.items() if fd in ours_fd} and
          set(theirs_fd) - set(ours_fd) <= {max(theirs_fd)} and len(ours_fd) >= 3,
          f"descriptors differ: ours {ours_fd}, the guest's {theirs_fd}")

    cross = inspect_live(sock, "crossview")
    check(cross["consistent"] and len(cross["rows"]) >= len(ours) - len(differ),
          f"cross-view: {cross['hidden']} hidden, {cross['not_in_idr']} not in the IDR")
    # the run queues were read (a one-CPU kernel: runqueues itself); the
    # guest is idle, waiting in `read`, so they may well be empty
    check(cross["run_queues"] and not cross["truncated"], f"run queues: {cross['notes']}")
    h1 = inspect_live(sock, "integrity")["kernel_sha256"]
    ifaces = inspect_live(sock, "ifaces")
    check(any(r["name"] == "lo" and "LOOPBACK" in r["flags"] and r["promisc"]
              for r in ifaces["rows"]), f"ifaces (lo was set promiscuous): {ifaces['rows']}")
    rc, _, err = keel("ctl", "--sock", sock, "inspect", "modules")
    check(rc == 1 and "CONFIG_MODULES" in err, f"modules on a kernel without them: {rc} {err}")

    # the same state saved and inspected offline
    with tempfile.TemporaryDirectory() as tmp:
        snap = os.path.join(tmp, "vm.keel")
        check(keel("ctl", "--sock", sock, "snapshot", snap)[0] == 0, "snapshot")
        for view in (["ps"], ["net"], ["mounts"], ["files", str(sh_pid)]):
            rc, out, err = keel("inspect", snap, *view, "--json")
            check(rc == 0, f"keel inspect {view}: {err}")
            live = inspect_live(sock, *view)
            check(json.loads(out)["rows"] == live["rows"],
                  f"inspect {view}: the snapshot's rows differ from the live VM's")
        rc, out, err = keel("inspect", snap, "ps")
        check(rc == 0 and re.search(r"\bsleep\b", out), f"table output: {out}")
        # hide the nc that accepted the connection: its socket loses its owner
        server = [r for r in net["rows"] if r["comm"] == "nc" and r["local"].endswith(":5555")]
        check(len(server) == 1, f"no nc holding the accepted connection: {net['rows']}")
        check_hidden(snap, server[0]["pid"], server[0]["remote"], tmp)
    check(keel("ctl", "--sock", sock, "resume")[0] == 0, "resume")
    g.send("\n")
    g.run("echo resumed")
    check(inspect_live(sock, "integrity")["kernel_sha256"] == h1, "kernel hash changed")


def check_hidden(snap, pid, peer, tmp):
    """A process unlinked from the task list (as a rootkit module would do;
    vmi_hide does it from below, the guest has no modules) is missing from
    ps and reported hidden by the cross-view, and its connection (to peer)
    is still in the TCP tables, now without an owner."""
    hide = os.environ.get("VMI_HIDE", os.path.join(os.path.dirname(keel_path()),
                                                   "tests", "vmi_hide"))
    hidden = os.path.join(tmp, "hidden.keel")
    p = subprocess.run([hide, snap, str(pid), hidden], capture_output=True, text=True)
    check(p.returncode == 0, f"vmi_hide: {p.stderr}")
    rc, out, err = keel("inspect", hidden, "crossview", "--json")
    cross = json.loads(out) if rc == 0 else {}
    check(rc == 0 and cross["hidden"] == [pid] and not cross["consistent"],
          f"cross-view of a hidden pid {pid}: rc={rc} {err} {cross.get('hidden')}")
    rc, out, err = keel("inspect", hidden, "ps", "--json")
    check(rc == 0 and pid not in [r["pid"] for r in json.loads(out)["rows"]],
          f"ps still lists the unlinked pid {pid}")
    rc, out, err = keel("inspect", hidden, "net", "--json")
    net = json.loads(out) if rc == 0 else {}
    orphan = [r for r in net.get("rows", []) if r["remote"] == peer]
    check(rc == 0 and net["unowned"] == 1 and len(orphan) == 1 and orphan[0]["pid"] is None
          and orphan[0]["state"] == "ESTABLISHED", f"the hidden process's socket: {orphan}")


def check_events(g, events_path):
    start = len(g.text())
    out, rc = g.run("echo @EVENTS; cat /etc/hostname >/dev/null; cd /etc; ls ./passwd; cd /")
    check(rc == 0, f"event script: {out!r}")
    g.run("sync")  # nothing to flush in the guest: just a known point after it
    with open(events_path) as f:
        events = [json.loads(l) for l in f if l.strip()]
    check(all(e["icount"] <= f["icount"] for e, f in zip(events, events[1:])),
          "events out of order")
    i = max(n for n, e in enumerate(events) if e["event"] == "exec" and e.get("comm") == "cat"
            and e["path"] == "/bin/cat")
    tail = [e for e in events[i:] if e["event"] in ("exec", "open", "exit")]
    want = [("exec", "cat", "/bin/cat"), ("open", "cat", "/etc/hostname"), ("exit", "cat", None),
            ("exec", "ls", "/bin/ls"), ("exit", "ls", None)]
    got = [(e["event"], e["comm"], e.get("path")) for e in tail
           if e["comm"] in ("cat", "ls") and not (e["event"] == "open" and e["comm"] == "ls")]
    check(got[:len(want)] == want, f"events: {got[:8]}")
    fork = [e for e in events if e["event"] == "fork" and e.get("child") == tail[0]["pid"]]
    check(fork and fork[0]["comm"] == "sh", f"no fork of cat's pid from sh: {fork}")


def check_replay():
    with tempfile.TemporaryDirectory() as tmp:
        log, sock = os.path.join(tmp, "log"), os.path.join(tmp, "k.sock")
        rec_events, rep_events = os.path.join(tmp, "rec.jsonl"), os.path.join(tmp, "rep.jsonl")
        g = Guest([], command=[keel_path(), "record", "--log", log, "--api-sock", sock,
                               "--vmi-events", rec_events] + boot_args(append=APPEND))
        try:
            g.wait_ready()
            # the child runs when the scheduler gets to it: wait until it has.
            # Idle time is skipped here (guest hours in a host second), so
            # the sleep is long enough to outlast the icount taken below.
            out, _ = g.run("sleep 100000000 & sleep 1; ps -o comm | grep -c '^sleep'")
            check(out.strip().endswith("1"), f"sleep did not start: {out!r}")
            rc, out, err = keel("ctl", "--sock", sock, "status")
            check(rc == 0, f"status: {err}")
            icount = json.loads(out)["icount"]
            g.power_off()
        finally:
            g.kill()
        # the replayed guest makes the same calls at the same instruction counts
        rc, out, err = keel("replay", log, "--quiet", "--vmi-events", rep_events, timeout=600)
        check(rc == 0, f"replay --vmi-events: rc={rc} {err}")
        with open(rec_events) as a, open(rep_events) as b:
            rec, rep = a.read(), b.read()
        check(rec == rep and '"comm":"sleep"' in rec,
              f"replay's events differ from the recording's: {len(rec)} vs {len(rep)} bytes")
        rc, out, err = keel("replay", log, "--until", str(icount), "--quiet", "--inspect", "ps",
                            "--json", timeout=600)
        check(rc == 0, f"replay --inspect: rc={rc} {err}")
        comms = [r["comm"] for r in json.loads(out)["rows"]]
        check("sleep" in comms, f"replay --inspect ps: {comms}")


def check_early_snapshot():
    """Before the kernel has paging on, inspect says so instead of guessing."""
    with tempfile.TemporaryDirectory() as tmp:
        snap = os.path.join(tmp, "early.keel")
        p = subprocess.run([keel_path(), "run", *boot_args(append=APPEND), "--snapshot-at",
                            f"200000:{snap}", "--max-insns", "300000"], capture_output=True,
                           timeout=120)
        check(os.path.exists(snap), f"no early snapshot: {p.stderr.decode()}")
        rc, out, err = keel("inspect", snap, "ps")
        check(rc == 1 and "no page table maps the kernel" in err,
              f"inspect before paging: rc={rc} {err}")


def test():
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "k.sock")
        events = os.path.join(tmp, "events.jsonl")
        # guest time keeps pace with wall time: skipping idle time, the
        # guest's clock would run ahead by hours between its listing and the
        # pause (sleep 1000 would end, nc's stdin close, and keel would see
        # another state than the guest printed)
        args = boot_args(append=APPEND, extra=["--api-sock", sock, "--vmi-events", events])
        args[args.index("--idle-sleep") + 1] = "on"
        g = Guest(args)
        try:
            g.wait_ready()
            check_against_guest(g, sock)
            check_events(g, events)
            g.power_off()
        finally:
            g.kill()
    check_replay()
    check_early_snapshot()


if __name__ == "__main__":
    main(test)
