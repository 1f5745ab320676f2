#!/usr/bin/env python3
"""Intrusion prevention on a clone (docs/shield.md): `keel run --shield`.

The guest runs the deliberately vulnerable tests/guest/vulnsrv.c on port
8000 and busybox httpd on port 80, both behind shielded forwards with
every request tried on a fork-clone first.

1. exploits are blocked: a command injection (the clone execs
   /bin/touch, not on exec_allow), a stack overflow (the clone's
   handler dies of SIGSEGV) and a privilege escalation (the handler
   switches back to uid 0: the uid watch) get a reset; the alerts name
   the policy and the clone's evidence; the real VM's files (/tmp/pwned,
   vulnsrv's request log) and processes (vulnsrv still running) show
   they never reached it; each blocked clone is kept as a snapshot, and
   `keel inspect SNAP ps` shows the escalated handler as uid 0 in it;
2. benign requests to vulnsrv and to httpd, sent while the attacks run,
   are all served with the right replies, keep-alive included;
3. edge cases end within the verdict window with a stated outcome: a
   client that closes mid-trial, one that sends nothing, a service that
   never answers, a clone that dies mid-trial, a request that panics the
   clone's kernel (a memory exhaustion on a guest set to panic on OOM:
   a "crash" verdict from the panic line, not a timeout);
4. `keel ctl shield status|rules|verdicts` counts them, and no trial
   clone is left running (the test counts keel's child processes);
5. 200 benign requests, every one tried on a clone: 0 blocked, all
   served right;
6. a shielded session under `keel record` (an attack included) verifies
   and replays with every checkpoint's digest equal and the same console:
   the clones are not in the log."""
import json
import os
import socket
import subprocess
import tempfile
import threading
import time

import vulnsrv
from guestlib import Guest, GuestError, boot_args, check, free_port, keel_path, main

VERDICT_MS = 4000
POLICY = {"policies": {"system_files": {}, "raw_sockets": {},
                       "network": {"listen_allow": ["80", "8000"],
                                   "connect_allow": ["127.0.0.1:*"]}}}


def rules(tmp, extra=None):
    r = {"try": {"all": True}, "verdict_ms": VERDICT_MS, "settle_ms": 20,
         "exec_allow": ["/bin/sh"], "ids": os.path.join(tmp, "policy.json"),
         "alerts": os.path.join(tmp, "alerts.jsonl"),
         "verdicts": os.path.join(tmp, "verdicts.jsonl"),
         "snapshot_dir": os.path.join(tmp, "forensics")}
    os.makedirs(r["snapshot_dir"], exist_ok=True)
    r.update(extra or {})
    with open(os.path.join(tmp, "policy.json"), "w") as f:
        json.dump(POLICY, f)
    path = os.path.join(tmp, "rules.json")
    with open(path, "w") as f:
        json.dump(r, f)
    return path


def http(port, path, keep=False, timeout=30):
    """One GET (or, with a list of paths, keep-alive requests on one
    connection): (replies, reset).  A reply is (status, body)."""
    paths = path if isinstance(path, list) else [path]
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    replies, buf, reset = [], b"", False
    try:
        for i, p in enumerate(paths):
            last = i == len(paths) - 1
            conn = "keep-alive" if keep and not last else "close"
            s.sendall(f"GET {p} HTTP/1.1\r\nHost: x\r\nConnection: {conn}\r\n\r\n".encode())
            while True:
                head, sep, rest = buf.partition(b"\r\n\r\n")
                if sep:
                    lines = head.decode(errors="replace").split("\r\n")
                    hdr = {k.lower(): v.strip() for k, _, v in
                           (ln.partition(":") for ln in lines[1:])}
                    n = int(hdr.get("content-length", -1))
                    if n >= 0 and len(rest) >= n:
                        replies.append((int(lines[0].split()[1]), rest[:n].decode()))
                        buf = rest[n:]
                        break
                d = s.recv(65536)
                if not d:
                    if sep and int(hdr.get("content-length", -1)) < 0:
                        replies.append((int(lines[0].split()[1]), rest.decode()))
                    return replies, reset
                buf += d
    except (ConnectionResetError, BrokenPipeError):
        reset = True
    finally:
        s.close()
    return replies, reset


def ctl(sock, *args):
    p = subprocess.run([keel_path(), "ctl", "--sock", sock] + list(args), capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 0, f"keel ctl {' '.join(args)}: {p.stdout} {p.stderr}")
    return json.loads(p.stdout)["result"]


def children(pid):
    """Live (not zombie) child processes of pid: the trial clones."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(d))
    return kids


def wait_no_clones(pid, timeout=30):
    deadline = time.monotonic() + timeout
    while children(pid):
        check(time.monotonic() < deadline, f"trial clones left running: {children(pid)}")
        time.sleep(0.1)


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class Shielded:
    def __init__(self, tmp, extra_rules=None, record=()):
        self.tmp = tmp
        self.vport, self.hport = free_port(), free_port()
        self.sock = os.path.join(tmp, "api.sock")
        net = (f"user,hostfwd=tcp:127.0.0.1:{self.vport}-:8000,"
               f"hostfwd=tcp:127.0.0.1:{self.hport}-:80")
        # 128 MiB: the memory exhaustion below fills it quickly
        args = boot_args(net=net, extra=["--shield", rules(tmp, extra_rules), "--api-sock",
                                         self.sock, "--idle-sleep", "on", "-m", "128M"])
        args[args.index("--initrd") + 1] = vulnsrv.initramfs()
        cmd = None
        if record:
            cmd = [keel_path(), "record"] + list(record) + args
        self.g = Guest(args, command=cmd)

    def start(self):
        self.g.wait_ready()
        # No TIME_WAIT sockets in the guest (docs/shield.md): a clone's
        # fresh slirp starts its sequence numbers afresh, and a SYN of it
        # that lands on a TIME_WAIT left by the parent's connections is
        # refused for one retransmit time (3 s).
        self.g.run("echo 0 > /proc/sys/net/ipv4/tcp_max_tw_buckets")
        # A guest that overcommits and panics when it runs out of memory
        # (no OOM killer): what a memory exhaustion does to a clone is a
        # kernel panic.
        self.g.run("echo 1 > /proc/sys/vm/overcommit_memory; echo 1 > /proc/sys/vm/panic_on_oom")
        out, rc = self.g.run("vulnsrv 8000 > /dev/null 2>&1 & sleep 0.5; pidof vulnsrv")
        check(rc == 0 and out.strip(), f"vulnsrv did not start: {out!r}")

    def quit(self):
        subprocess.run([keel_path(), "ctl", "--sock", self.sock, "quit"], capture_output=True,
                       timeout=30)
        status = self.g.wait_exit(60)
        check(status == 0, f"keel exited {status}: {self.g.stderr()}")


def verdict_alerts(tmp):
    """The alert lines of blocked requests (not the snapshot lines)."""
    return [a for a in read_jsonl(os.path.join(tmp, "alerts.jsonl")) if "verdict" in a]


def saved_snapshot(tmp, alert, timeout=60):
    """Wait for the line saying the alert's clone was saved; its file."""
    deadline = time.monotonic() + timeout
    while True:
        done = [a for a in read_jsonl(os.path.join(tmp, "alerts.jsonl"))
                if a.get("response") == "snapshot" and a.get("file") == alert.get("snapshot")]
        if done:
            check("error" not in done[0] and os.path.exists(done[0]["file"]),
                  f"the clone was not saved: {done[0]!r}")
            return done[0]["file"]
        check(time.monotonic() < deadline, f"no snapshot line for {alert!r}")
        time.sleep(0.2)


def check_attacks_and_benign(s):
    """Attacks and benign requests at the same time (threads)."""
    inject = "/echo?msg=x;touch%20/tmp/pwned"
    overflow = "/hello?name=" + "A" * 200
    # keep-alive: the escalated handler waits for the next request, so it
    # is still there when the clone is saved
    escalate = ["/admin?key=", "/"]
    results = {}

    def go(key, port, path, keep=False):
        results[key] = http(port, path, keep)

    jobs = [("inject", s.vport, inject), ("overflow", s.vport, overflow),
            ("escalate", s.vport, escalate, True)]
    for i in range(4):
        jobs += [(f"root{i}", s.vport, "/"), (f"echo{i}", s.vport, f"/echo?msg=hi{i}"),
                 (f"httpd{i}", s.hport, "/")]
    threads = [threading.Thread(target=go, args=j) for j in jobs]
    threads.append(threading.Thread(target=go, args=("keep", s.vport,
                                                     ["/", "/echo?msg=one", "/echo?msg=two"],
                                                     True)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for k in ("inject", "overflow", "escalate"):
        replies, reset = results[k]
        check(not replies, f"{k}: the attacker got a reply: {replies!r}")
    for i in range(4):
        check(results[f"root{i}"][0] == [(200, "hello from vulnsrv\n")], f"root{i}: {results}")
        check(results[f"echo{i}"][0] == [(200, f"hi{i}\n")], f"echo{i}: {results[f'echo{i}']}")
        r = results[f"httpd{i}"][0]
        check(len(r) == 1 and r[0][0] == 200 and "keel" in r[0][1], f"httpd{i}: {r!r}")
    check(results["keep"][0] == [(200, "hello from vulnsrv\n"), (200, "one\n"), (200, "two\n")],
          f"keep-alive: {results['keep']!r}")

    alerts = verdict_alerts(s.tmp)
    check(len(alerts) == 3, f"three alerts expected: {alerts!r}")
    def kind(a):
        r = a["request"]
        return "inject" if "touch" in r else "escalate" if "/admin" in r else "overflow"
    by_req = {kind(a): a for a in alerts}
    a = by_req["inject"]
    check(a["policies"] == ["exec_allow"] and
          a["evidence"][0]["evidence"]["path"] == "/bin/touch", f"injection alert: {a!r}")
    a = by_req["overflow"]
    check(any("unhandled signal 11" in line for line in a["console"]),
          f"overflow alert without the crash: {a!r}")
    a = by_req["escalate"]
    ev = a["evidence"][0] if a["evidence"] else {}
    check(a["policies"] == ["uid"] and ev.get("comm") == "vulnsrv" and
          ev["evidence"]["uid_before"] == 1000 and ev["evidence"]["uid"] == 0,
          f"escalation alert: {a!r}")

    # Each blocked clone was kept; in the escalation's, its handler runs as
    # root (in the real VM, no handler ever did).
    for k, a in by_req.items():
        check(a.get("snapshot", "").startswith(os.path.join(s.tmp, "forensics")),
              f"{k}: no snapshot named: {a!r}")
    snap = saved_snapshot(s.tmp, by_req["escalate"])
    rc, out, err = keel("inspect", snap, "ps", "--json")
    check(rc == 0, f"inspect {snap}: {err}")
    rows = {r["pid"]: r for r in json.loads(out)["rows"]}
    h = rows.get(ev["pid"])
    check(h and h["comm"] == "vulnsrv" and h["uid"] == 0,
          f"the escalated handler in the snapshot: {h!r} (pids {sorted(rows)})")
    for k in ("inject", "overflow"):
        saved_snapshot(s.tmp, by_req[k])

    # The real VM never saw either attack.
    out, rc = s.g.run("ls /tmp/pwned")
    check(rc != 0, f"/tmp/pwned exists in the real VM: {out!r}")
    out, _ = s.g.run("cat /tmp/vulnsrv.log")
    check("pwned" not in out and "/hello" not in out, f"vulnsrv's log saw an attack: {out!r}")
    check(out.count("GET ") == 4 * 2 + 3, f"vulnsrv's log: {out!r}")
    out, rc = s.g.run("pidof vulnsrv")
    check(rc == 0 and out.split(), "vulnsrv is gone from the real VM")


def check_edges(s):
    # 1. A client that closes mid-trial: the attack is still judged and
    #    blocked; a benign one is still delivered (a half-close).
    c = socket.create_connection(("127.0.0.1", s.vport))
    c.sendall(b"GET /echo?msg=y;id HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    c.close()
    c = socket.create_connection(("127.0.0.1", s.vport))
    c.sendall(b"GET /echo?msg=gone HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    c.close()
    # 2. A client that sends nothing: closed within the verdict window.
    t0 = time.monotonic()
    c = socket.create_connection(("127.0.0.1", s.vport), timeout=VERDICT_MS / 1000 + 10)
    got = c.recv(100)
    waited = time.monotonic() - t0
    c.close()
    check(got == b"" and waited < VERDICT_MS / 1000 + 3, f"silent client: {got!r} {waited:.1f}s")
    # 3. A service that never answers: blocked at the verdict deadline.
    t0 = time.monotonic()
    replies, reset = http(s.vport, "/sleep?ms=60000")
    waited = time.monotonic() - t0
    check(not replies and waited < VERDICT_MS / 1000 + 3, f"no answer: {replies} {waited:.1f}s")
    # 4. A clone that dies mid-trial (as a panicking or crashing one does):
    #    the connection is reset at once.  (The clones kept for forensics
    #    are saved and gone first: only the trial's is killed.)
    wait_no_clones(s.g.proc.pid)
    result = {}
    th = threading.Thread(target=lambda: result.update(r=http(s.vport, "/sleep?ms=3000")))
    th.start()
    deadline = time.monotonic() + 10
    # running (the front counts it once it said so), not still starting
    while ctl(s.sock, "shield", "status")["clones_live"] < 1:
        check(time.monotonic() < deadline, "no trial clone appeared")
        time.sleep(0.02)
    for pid in children(s.g.proc.pid):
        os.kill(pid, 9)
    th.join(30)
    check(not result["r"][0], f"a reply from a dead clone: {result['r']!r}")
    wait_no_clones(s.g.proc.pid)

    verdicts = read_jsonl(os.path.join(s.tmp, "verdicts.jsonl"))
    last = verdicts[-5:]
    kinds = [(v["verdict"], v["reason"]) for v in last]
    check(any(v == "attack" and "alerts" in r for v, r in kinds), f"closed attack: {kinds}")
    check(any(v == "no_request" for v, r in kinds), f"silent client: {kinds}")
    check(any(v == "timeout" for v, r in kinds), f"never answers: {kinds}")
    check(any(v == "attack" and "stopped" in r for v, r in kinds), f"dead clone: {kinds}")
    out, _ = s.g.run("cat /tmp/vulnsrv.log")
    check("msg=gone" in out and "msg=y;id" not in out, f"log: {out!r}")
    # The real VM is unaffected.
    replies, _ = http(s.vport, "/echo?msg=after")
    check(replies == [(200, "after\n")], f"after the edge cases: {replies!r}")


def check_panic(s):
    """A request that panics the clone's kernel: with panic=0 the kernel
    spins on, but its console's panic line ends the trial at once."""
    t0 = time.monotonic()
    replies, reset = http(s.vport, "/cache?mb=200")
    waited = time.monotonic() - t0
    check(not replies, f"a reply from a panicked clone: {replies!r}")
    v = read_jsonl(os.path.join(s.tmp, "verdicts.jsonl"))[-1]
    check(v["verdict"] == "crash" and "kernel" in v["reason"] and
          v["trial_ms"] < VERDICT_MS and
          any("Kernel panic" in line for line in v["alert"]["console"]),
          f"panic: {waited:.1f}s {v!r}")
    wait_no_clones(s.g.proc.pid, timeout=60)  # the panicked clone is saved first
    out, _ = s.g.run("cat /tmp/vulnsrv.log")
    check("/cache" not in out, f"the real VM saw the exhaustion: {out!r}")
    check(http(s.vport, "/echo?msg=alive")[0] == [(200, "alive\n")], "after the panic")


def settled_status(s, timeout=10):
    """The status once the front has closed every connection."""
    deadline = time.monotonic() + timeout
    while True:
        st = ctl(s.sock, "shield", "status")
        if st["open_connections"] == 0 or time.monotonic() > deadline:
            return st
        time.sleep(0.1)


def check_ctl(s):
    st = settled_status(s)
    check(st["blocked"] >= 5 and st["clean"] >= 15 and st["clones_live"] == 0 and
          st["tried"] == st["clean"] + st["blocked"], f"status: {st!r}")
    r = ctl(s.sock, "shield", "rules")
    check(r["exec_allow"] == ["/bin/sh"] and r["try"]["all"] is True, f"rules: {r!r}")
    v = ctl(s.sock, "shield", "verdicts")
    check(v["total"] >= st["tried"] and v["verdicts"][-1]["verdict"] == "clean",
          f"verdicts: {v['total']} {v['verdicts'][-1:]!r}")
    p = subprocess.run([keel_path(), "ctl", "--sock", s.sock, "shield", "bogus"],
                       capture_output=True, text=True)
    check(p.returncode != 0 and "usage" in p.stderr, f"bad ctl: {p.stderr!r}")
    wait_no_clones(s.g.proc.pid)


def check_many_benign(s, n=200):
    before = settled_status(s)
    for i in range(n):
        path = "/" if i % 2 else f"/echo?msg=b{i}"
        want = "hello from vulnsrv\n" if i % 2 else f"b{i}\n"
        replies, reset = http(s.vport, path)
        if replies != [(200, want)]:
            time.sleep(0.5)
            tail = read_jsonl(os.path.join(s.tmp, "verdicts.jsonl"))[-2:]
            check(False, f"benign request {i}: {replies!r} reset={reset}; verdicts {tail!r}")
    after = settled_status(s)
    check(after["blocked"] == before["blocked"] and after["clean"] - before["clean"] == n and
          after["tried"] - before["tried"] == n, f"{n} benign: {before!r} -> {after!r}")
    wait_no_clones(s.g.proc.pid)
    return after


def keel(*args):
    p = subprocess.run([keel_path(), *args], capture_output=True, timeout=900)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def check_recorded(tmp):
    log, seal, verify = (os.path.join(tmp, n) for n in ("log", "seal.key", "verify.key"))
    rc, _, err = keel("log", "keygen", "--seal-key", seal, "--verify-key", verify)
    check(rc == 0, f"keygen: {err}")
    s = Shielded(tmp, record=["--log", log, "--seal-key", seal,
                              "--checkpoint-every", "50000000"])
    try:
        s.start()
        for i in range(5):
            check(http(s.vport, f"/echo?msg=r{i}")[0] == [(200, f"r{i}\n")], "recorded benign")
        check(not http(s.vport, "/echo?msg=x;touch%20/tmp/pwned")[0], "recorded attack")
        out, rc = s.g.run("ls /tmp/pwned")
        check(rc != 0, f"recorded VM: {out!r}")
        out, rc = s.g.run("cat /tmp/vulnsrv.log")
        check("pwned" not in out and out.count("GET") == 5, f"recorded VM's log: {out!r}")
        wait_no_clones(s.g.proc.pid)
        s.g.send("poweroff -f\n")
        check(s.g.wait_exit(120) == 0, f"record: {s.g.stderr()}")
    finally:
        s.g.kill()
    rc, out, err = keel("log", "verify", log, "--key", verify)
    check(rc == 0, f"verify: exit {rc}: {out} {err}")
    events = os.path.join(tmp, "events.jsonl")
    rc, out, err = keel("replay", log, "--key", verify, "--vmi-events", events)
    check(rc == 0, f"replay: exit {rc}: {err[-1500:]}")
    check(out == s.g.output, "the replayed console differs from the recorded one")
    print(err.strip().splitlines()[-1])
    # The digests: every checkpoint of the replay equals the recording's, so
    # the replay is the real VM, instruction for instruction; what it never
    # did, the real VM never did.  It ran the five benign requests' shells
    # (vulnsrv's popen) and never the attack's /bin/touch, which the
    # clone's alert shows the attack did there.
    execs = [e for e in read_jsonl(events) if e["event"] == "exec" and "errno" not in e]
    shells = [e for e in execs if e["path"] == "/bin/sh"]
    check(len(shells) >= 5, f"the benign requests' shells in the replay: {execs!r}")
    check(not [e for e in execs if "touch" in e["path"]], f"the attack ran: {execs!r}")
    check([a for a in verdict_alerts(tmp)
           if a["evidence"] and a["evidence"][0]["evidence"].get("path") == "/bin/touch"],
          "the recorded attack's clone did not exec /bin/touch")


def check_bad_rules(tmp):
    bad = os.path.join(tmp, "bad.json")
    for text, want in [('{"try": {"al": true}}', "try.al: unknown key"),
                       ('{"verdict_ms": 5}', "verdict_ms must be"),
                       ('{"ports": [9]}', "port 9 is not a TCP hostfwd"),
                       ('{"ids": "/nonexistent.json"}', "/nonexistent.json")]:
        with open(bad, "w") as f:
            f.write(text)
        p = subprocess.run([keel_path(), "run"] + boot_args(net="user,hostfwd=tcp::1-:80",
                                                           extra=["--shield", bad]),
                           capture_output=True, text=True, timeout=30)
        check(p.returncode == 1 and want in p.stderr, f"{text}: {p.returncode} {p.stderr!r}")


def test():
    with tempfile.TemporaryDirectory(prefix="keel-shield-") as tmp:
        check_bad_rules(tmp)
        s = Shielded(tmp)
        try:
            s.start()
            check_attacks_and_benign(s)
            wait_no_clones(s.g.proc.pid)
            check_edges(s)
            check_panic(s)
            check_ctl(s)
            check_many_benign(s)
            s.quit()
        finally:
            s.g.kill()
    with tempfile.TemporaryDirectory(prefix="keel-shield-rec-") as tmp:
        check_recorded(tmp)


if __name__ == "__main__":
    main(test)
