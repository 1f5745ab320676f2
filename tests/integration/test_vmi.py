#!/usr/bin/env python3
"""Introspection (docs/vmi.md) against the guest's own tools.

Boot the default guest with a control socket and an event stream; in the
guest, start a listener and a connection, then print `ps -o pid,ppid,comm`,
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

APPEND = "console=ttyS0 keel.net=off"


def keel(*args, timeout=300):
    p = subprocess.run([keel_path(), *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def inspect_live(sock, *view):
    rc, out, err = keel("ctl", "--sock", sock, "inspect", *view, "--json")
    check(rc == 0, f"ctl inspect {view}: rc={rc} {err}")
    check("stood still" in err, f"ctl inspect does not say how long the guest stood still: {err!r}")
    return json.loads(out)


def parse_ps(text):
    procs = {}
    for line in text.splitlines():
        m = re.match(r"\s*(\d+)\s+(\d+)\s+(\S.*?)\s*$", line)
        if m:
            procs[int(m.group(1))] = (int(m.group(2)), m.group(3))
    return procs


def parse_proc_net_tcp(text):
    """(local, remote, state) of each line, addresses as a.b.c.d:port."""
    def addr(h):
        ip, port = h.split(":")
        b = bytes.fromhex(ip)[::-1]  # the kernel prints the __be32 as a host u32
        return f"{b[0]}.{b[1]}.{b[2]}.{b[3]}:{int(port, 16)}"
    states = ["?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
              "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"]
    out = set()
    for line in text.splitlines():
        f = line.split()
        if len(f) > 4 and re.match(r"\d+:$", f[0]):
            out.add((addr(f[1]), addr(f[2]), states[int(f[3], 16)]))
    return out


def section(text, start, end):
    """What the guest printed between two marker lines (the echoed command
    line has them too, but never at the start of a line)."""
    m = re.search("^" + re.escape(start), text, re.M)
    check(m, f"no {start!r} in the guest's output")
    return text[m.end():].split("\n" + end, 1)[0]


def check_against_guest(g, sock):
    out, rc = g.run("ifconfig lo promisc")
    check(rc == 0, f"ifconfig lo promisc: {out!r}")
    g.run("sleep 1000 | nc -l -p 5555 >/dev/null & sleep 1; sleep 1000 | nc 127.0.0.1 5555 & "
          "sleep 1")
    start = len(g.text())
    g.send("echo @PS; ps -o pid,ppid,comm; echo @TCP; cat /proc/net/tcp; echo @MOUNTS; "
           "cat /proc/mounts; echo @FD $$; ls -l /proc/$$/fd; echo @END; read x\n")
    g.expect("@END\r?\n", 60, start)
    text = re.sub(r"\x1b\[[0-9;]*m", "", g.text()[start:].replace("\r", "")) + "\n"
    check(keel("ctl", "--sock", sock, "pause")[0] == 0, "pause")

    # processes: the guest's ps against the task list
    theirs = parse_ps(section(text, "@PS\n", "@TCP"))
    ps = inspect_live(sock, "ps")
    ours = {r["pid"]: (r["ppid"], r["comm"]) for r in ps["rows"]}
    ps_pid = [p for p, (_, c) in theirs.items() if c == "ps"]
    check(len(ps_pid) == 1, f"no ps in the guest's listing: {theirs}")
    del theirs[ps_pid[0]]  # the printing process has exited since
    # Idle kernel workers come and go on their own (idle time is skipped,
    # so their timeouts pass quickly): only they may differ.
    differ = {p: (ours.get(p) or theirs.get(p))[1] for p in set(ours) ^ set(theirs)}
    check(all(c.startswith("kworker/") for c in differ.values()),
          f"process sets differ: only ours {sorted(set(ours) - set(theirs))}, only the "
          f"guest's {sorted(set(theirs) - set(ours))}")
    for pid, (ppid, comm) in theirs.items():
        if pid not in ours:
            continue
        # busybox shows a kworker's comm with its workqueue ("kworker/0:0-eve")
        check(ours[pid][0] == ppid and comm.startswith(ours[pid][1]),
              f"pid {pid}: ours {ours[pid]}, the guest's {(ppid, comm)}")
    check(not ps["truncated"], f"ps truncated: {ps['notes']}")
    user = [r for r in ps["rows"] if not r["kthread"]]
    check(all(r["exe"] == "/bin/busybox" and r["pgd_pa"] for r in user),
          f"exe or page table missing: {user}")

    # sockets: /proc/net/tcp against the descriptors' sockets
    theirs_tcp = parse_proc_net_tcp(section(text, "@TCP\n", "@MOUNTS"))
    net = inspect_live(sock, "net")
    ours_tcp = {(r["local"], r["remote"], r["state"]) for r in net["rows"] if r["proto"] == "tcp"}
    check(len(ours_tcp) == len([r for r in net["rows"] if r["proto"] == "tcp"]),
          f"a TCP socket listed twice: {net['rows']}")
    check(ours_tcp == theirs_tcp, f"TCP sockets differ: ours {ours_tcp}, the guest's {theirs_tcp}")
    check(any(s[0].endswith(":5555") and s[2] == "ESTABLISHED" for s in ours_tcp) and
          any(s[0].endswith(":80") and s[2] == "LISTEN" for s in ours_tcp),
          f"the test's connection is missing: {ours_tcp}")
    owners = {r["comm"] for r in net["rows"] if r["proto"] == "tcp"}
    check({"httpd", "nc"} <= owners, f"socket owners: {owners}")

    # mounts
    theirs_m = {tuple(l.split()[:3]) for l in section(text, "@MOUNTS\n", "@FD").splitlines()
                if l.strip()}
    mounts = inspect_live(sock, "mounts")
    ours_m = {(r["device"], r["mountpoint"], r["type"]) for r in mounts["rows"]}
    check(ours_m == theirs_m, f"mounts differ: ours {ours_m}, the guest's {theirs_m}")

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
            # the child runs when the scheduler gets to it: wait until it has
            out, _ = g.run("sleep 1000 & sleep 1; ps -o comm | grep -c '^sleep'")
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
        g = Guest(boot_args(append=APPEND, extra=["--api-sock", sock, "--vmi-events", events]))
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
