#!/usr/bin/env python3
"""Introspection at 100 points of a busy guest (docs/vmi.md, "Tests").

The default guest runs a workload that forks (a sleeper more each round,
the oldest killed every fifth round), opens files (a descriptor of the
shell moved to another file each round) and makes connections (an HTTP
request to its own httpd each round, whose socket stays in TIME_WAIT,
and a connection held between two nc every tenth round).  After each round the shell
waits until its state is still (vmilib.SETTLE_SH: no child between fork
and exec, no connection of httpd's being served; the killed sleeper is
reaped), prints its own answer (ps, /proc/net/tcp, its descriptors) and
blocks in `read`; keel pauses the VM and reads ps, net, files and
crossview.  At each of the 100 points keel's answer must equal the
guest's (the printing `ps` aside), every user process must be whole (not
exiting, not a zombie, with its exe and page table) and the cross-view
must be consistent with no notes: 100/100, no errors, no garbage.

Guest time keeps pace with wall time here (--idle-sleep on): skipping
idle time would let many timers fire between the guest's listing and
the pause.  Even so a TIME_WAIT socket (60 s) the guest listed may have
expired by the time keel looks: the only difference allowed besides
idle kernel workers."""
import os
import re
import tempfile
import time

from guestlib import Guest, boot_args, check, main
from vmilib import (clean, compare_ps, compare_tcp, inspect_live, keel, parse_proc_net_tcp,
                    parse_ps, section, settle, user_rows_whole)

POINTS = 100


def round_command(i):
    """Round i's workload, then the listings, then block."""
    # $q: the sleepers' pids, oldest first; the one killed is waited for
    # (reaped), so that the guest's listing and keel's look agree on it
    work = [f"sleep {10000 + i} & q=\"$q $!\"", "cat /etc/passwd >/dev/null",
            f"exec 5</etc/{'passwd' if i % 2 else 'hostname'}",
            "wget -q -O /dev/null http://127.0.0.1/"]
    if i % 5 == 4:
        work.append('set -- $q; kill $1; wait $1; shift; q="$*"')
    if i % 10 == 9:
        # a connection held open between two nc (httpd would time out
        # an idle one and close it while keel looks)
        port = 6000 + i
        work += [f"sleep 10000 | nc -l -p {port} >/dev/null &", "sleep 1",
                 f"sleep 10000 | nc 127.0.0.1 {port} >/dev/null &", "sleep 1"]
    return ("".join(w + ("" if w.endswith("&") else ";") + " " for w in work) +
            f"settle; echo @PS{i}; ps -o pid,ppid,comm; echo @TCP; cat /proc/net/tcp;"
            f" echo @FD $$; ls -l /proc/$$/fd; echo @END{i}; read x\n")


def one_point(g, sock, i):
    start = len(g.text())
    g.send(round_command(i))
    g.expect(f"@END{i}\r?\n", 120, start)
    text = clean(g.text()[start:])
    check(keel("ctl", "--sock", sock, "pause")[0] == 0, "pause")
    ps = inspect_live(sock, "ps")
    compare_ps(parse_ps(section(text, f"@PS{i}\n", "@TCP")), ps)
    user_rows_whole(ps, f"point {i}: ")
    check(all(r["comm"] and r["start_ns"] >= 0 for r in ps["rows"]) and
          len({r["pid"] for r in ps["rows"]}) == len(ps["rows"]), f"point {i}: a malformed ps row")
    net = inspect_live(sock, "net")
    tcp = compare_tcp(parse_proc_net_tcp(section(text, "@TCP\n", "@FD")), net, may_expire=True)
    check(not net["truncated"], f"point {i}: net notes {net['notes']}")
    fd_text = section(text, "@FD ", f"@END{i}")
    sh = int(fd_text.split()[0])
    theirs = {int(m.group(1)): m.group(2) for m in re.finditer(r" (\d+) -> (\S+)", fd_text)}
    files = inspect_live(sock, "files", str(sh))
    ours = {r["fd"]: r["path"] for r in files["rows"]}
    check(ours == {fd: p for fd, p in theirs.items() if fd in ours} and
          set(theirs) - set(ours) <= {max(theirs)} and
          ours.get(5) == ("/etc/passwd" if i % 2 else "/etc/hostname"),
          f"point {i}: descriptors: ours {ours}, the guest's {theirs}")
    cross = inspect_live(sock, "crossview")
    check(cross["consistent"] and not cross["truncated"],
          f"point {i}: cross-view {cross['hidden']} {cross['not_in_idr']} {cross['notes']}")
    check(keel("ctl", "--sock", sock, "resume")[0] == 0, "resume")
    g.send("\n")
    return len(ps["rows"]), len(tcp)


def test():
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "k.sock")
        args = boot_args(append="console=ttyS0 keel.net=off", extra=["--api-sock", sock])
        args[args.index("--idle-sleep") + 1] = "on"
        g = Guest(args)
        try:
            g.wait_ready()
            settle(g)
            t0 = time.monotonic()
            procs, socks = set(), set()
            for i in range(POINTS):
                p, s = one_point(g, sock, i)
                procs.add(p)
                socks.add(s)
            print(f"{POINTS}/{POINTS} points equal to the guest's ps, /proc/net/tcp and "
                  f"descriptors, cross-view consistent ({min(procs)}-{max(procs)} processes, "
                  f"{min(socks)}-{max(socks)} TCP sockets; {time.monotonic() - t0:.0f} s)")
            g.power_off()
        finally:
            g.kill()


if __name__ == "__main__":
    main(test)
