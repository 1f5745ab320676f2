"""Introspection (docs/vmi.md) against the guest's own tools, for the
integration tests of both guests: keel ctl inspect on a live VM, the
parsers of what the guest printed (ps, /proc/net/tcp and tcp6,
/proc/mounts, /proc/modules, ls -l /proc/PID/fd) and the comparisons
every test makes the same way."""
import ipaddress
import json
import re
import socket
import subprocess

from guestlib import check, keel_path

TCP_STATES = ["?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
              "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"]


# A shell function the guest runs before it lists its processes, so that
# the listing and keel's later look (after the pause) see one state: it
# waits until no child of the shell is between fork and exec (still "sh")
# and busybox httpd serves no connection (a child of httpd exits on its
# own time, after the client has its answer).  Only builtins: it forks
# nothing that could itself be listed.  ash's read takes a byte per
# system call, so only the short comm is read of every process.
SETTLE_SH = ("settle() { b=1; while [ $b = 1 ]; do b=0; for d in /proc/[0-9]*; do "
             "read -r c 2>/dev/null <$d/comm || continue; case $c in sh|httpd) "
             "read -r p c s pp r 2>/dev/null <$d/stat || continue; case \"$c $pp\" in "
             "\"(sh) $$\") b=1;; \"(httpd) 1\") ;; \"(httpd) \"*) b=1;; esac;; esac; "
             "done; done; }")


def settle(g):
    """Define settle() in the guest's shell (SETTLE_SH)."""
    out, rc = g.run(SETTLE_SH)
    check(rc == 0, f"settle(): {out!r}")


def user_rows_whole(ps, where=""):
    """Every user process keel lists in a settled guest is alive with its
    image: an exe, a page table, neither exiting nor a zombie (those two
    have no mm, and ps would show them as R or Z)."""
    bad = [r for r in ps["rows"] if not r["kthread"] and
           (r["exiting"] or r["state"] == "Z" or not r["exe"] or not r["pgd_pa"])]
    check(not bad, f"{where}user processes without their image: {bad}")


def keel(*args, timeout=300):
    p = subprocess.run([keel_path(), *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def inspect_live(sock, *view):
    rc, out, err = keel("ctl", "--sock", sock, "inspect", *view, "--json")
    check(rc == 0, f"ctl inspect {view}: rc={rc} {err}")
    check("stood still" in err, f"ctl inspect does not say how long the guest stood still: {err!r}")
    return json.loads(out)


def parse_ps(text):
    """{pid: (ppid, comm)} of `ps -o pid,ppid,comm` (busybox or procps)."""
    procs = {}
    for line in text.splitlines():
        m = re.match(r"\s*(\d+)\s+(\d+)\s+(\S.*?)\s*$", line)
        if m:
            procs[int(m.group(1))] = (int(m.group(2)), m.group(3))
    return procs


def _addr(h):
    """An address of /proc/net/tcp (a.b.c.d:port) or tcp6 ([v6]:port, as
    keel and inet_ntop write it): the kernel prints each 32-bit word of
    the address as a host-order hex number."""
    ip, port = h.split(":")
    raw = b"".join(bytes.fromhex(ip[i:i + 8])[::-1] for i in range(0, len(ip), 8))
    if len(raw) == 4:
        return f"{ipaddress.IPv4Address(raw)}:{int(port, 16)}"
    return f"[{socket.inet_ntop(socket.AF_INET6, raw)}]:{int(port, 16)}"


def parse_proc_net_tcp(text):
    """{(local, remote, state)} of /proc/net/tcp and /proc/net/tcp6 lines."""
    out = set()
    for line in text.splitlines():
        f = line.split()
        if len(f) > 4 and re.match(r"\d+:$", f[0]):
            out.add((_addr(f[1]), _addr(f[2]), TCP_STATES[int(f[3], 16)]))
    return out


def section(text, start, end):
    """What the guest printed between two marker lines (the echoed command
    line has them too, but never followed by the newline).  A shell prompt
    that came after the typed line's echo may stand before the first."""
    m = re.search(r"^(?:[^\n]*?[#$] )?" + re.escape(start), text, re.M)
    check(m, f"no {start!r} in the guest's output: {text[-3000:]!r}")
    return text[m.end():].split("\n" + end, 1)[0]


def clean(text):
    """Console text without carriage returns and colour sequences."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text.replace("\r", "")) + "\n"


def compare_ps(theirs, ps, transient=("ps",)):
    """The guest's ps against keel's: the same pids with the same parents
    and names.  The printing commands (transient) have exited since;
    idle kernel workers come and go on their own."""
    ours = {r["pid"]: (r["ppid"], r["comm"]) for r in ps["rows"]}
    theirs = {p: v for p, v in theirs.items() if v[1] not in transient}
    differ = {p: (ours.get(p) or theirs.get(p))[1] for p in set(ours) ^ set(theirs)}
    check(all(c.startswith("kworker/") for c in differ.values()),
          f"process sets differ: only ours {[(p, ours[p]) for p in set(ours) - set(theirs)]}, "
          f"only the guest's {[(p, theirs[p]) for p in set(theirs) - set(ours)]}")
    for pid, (ppid, comm) in theirs.items():
        if pid in ours:
            # busybox shows a kworker's comm with its workqueue ("kworker/0:0-eve")
            check(ours[pid][0] == ppid and comm.startswith(ours[pid][1][:15]),
                  f"pid {pid}: ours {ours[pid]}, the guest's {(ppid, comm)}")
    check(not ps["truncated"], f"ps truncated: {ps['notes']}")
    return ours, differ


def compare_tcp(theirs, net, may_expire=False):
    """/proc/net/tcp (and tcp6) against keel's TCP sockets, each once.
    may_expire: a TIME_WAIT socket the guest listed may have expired by
    the time keel looks (guest time runs on between the two)."""
    rows = [r for r in net["rows"] if r["proto"] in ("tcp", "tcp6")]
    ours = {(r["local"], r["remote"], r["state"]) for r in rows}
    # a socket held on two descriptors (busybox httpd's child on 0 and 1)
    # is one row each, the same inode; one only in the tables has none
    sockets = {r["inode"] if r["inode"] is not None else ("table", i) for i, r in enumerate(rows)}
    check(len(ours) == len(sockets), f"a TCP socket listed twice: {rows}")
    gone = {s for s in theirs - ours if s[2] == "TIME_WAIT"} if may_expire else set()
    check(ours == theirs - gone, f"TCP sockets differ: only ours {ours - theirs}, only the "
          f"guest's {theirs - ours}")
    return ours


def compare_mounts(text, mounts, above_root=()):
    """/proc/mounts against keel's mounts.  above_root: mounts the reader
    cannot see because they lie above its root (the initramfs's rootfs
    after switch_root), listed by keel, which reads the namespace."""
    theirs = {tuple(l.split()[:3]) for l in text.splitlines() if l.strip()}
    ours = {(r["device"], r["mountpoint"], r["type"]) for r in mounts["rows"]}
    check(ours - set(above_root) == theirs,
          f"mounts differ: only ours {ours - theirs}, only the guest's {theirs - ours}")


def compare_modules(text, modules):
    """/proc/modules (what lsmod reads) against keel's module list."""
    theirs = {l.split()[0] for l in text.splitlines() if l.strip()}
    ours = {r["name"] for r in modules["rows"] if r["module_list"]}
    check(ours == theirs and theirs, f"modules differ: only ours {ours - theirs}, only the "
          f"guest's {theirs - ours}")
    check(all(r["sysfs"] for r in modules["rows"]) and not modules["hidden"],
          f"a module missing from /sys/module or hidden: {modules['rows']}")
