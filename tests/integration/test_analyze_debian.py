#!/usr/bin/env python3
"""Replay analysis on the Debian guest (docs/analyze.md; make test-debian).

The scenario of test_analyze.py on Debian 13 with Debian's own kernel,
systemd, bash, dash and nginx.  The guest is booted once and snapshotted
at a root shell; the recording starts from that snapshot (`keel record
--restore`), so the analyses replay the scenario and not a whole boot.
Recorded: a cron-like loop rewrites /root/status every second; a
vulnerable service written in Debian's python3 (typed on the console, so
no connection brought it) runs what follows `msg=` through
`os.popen("echo " + msg)`; two benign clients fetch nginx's page, before
and after the attack; the attacker's request injects a command that
appends a line to /etc/passwd.  After the service started, the console
shell reads /root/status: a flow time order must prune.

`keel analyze LOG --why /etc/passwd` must name exactly the attacker's
client port and the chain (popen's dash, python3, the console's bash, ...,
systemd), and neither benign client nor the cron loop; three runs print
the same answer byte for byte; `--taint /etc/passwd` finds the injected
line's bytes, all from the attacker's connection alone, through python's
strings, popen's argv and dash's echo.  Every keel started here is killed
at the end."""
import json
import os
import re
import subprocess
import tempfile
import time

import debianlib as deb
from guestlib import Guest, check, free_port, keel_path, main
from test_analyze import exchange, fetch, wait_for_line
from test_clone import wait_for_socket

RUNS = int(os.environ.get("ANALYZE_RUNS", "3"))
PATIENCE = 120  # connection attempts, 0.5 s apart: a slower guest than test_analyze's
LINE = "toor:x:0:0::/root:/bin/sh"
# The service: one connection at a time, the request's text after the
# first '=' up to the next space goes to the shell.  No URL decoding: the
# attacker writes its spaces as ${IFS}.
SERVICE = [
    "import os, socket",
    "s = socket.socket()",
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
    "s.bind(('', 4444))",
    "s.listen(5)",
    "open('/run/vulnsrv.ready', 'w').close()",
    "while True:",
    "    c, _ = s.accept()",
    "    req = c.recv(4096).decode()",
    "    msg = req.split(' ')[1].split('=', 1)[-1]",
    "    out = os.popen('echo ' + msg).read()",
    "    c.sendall(('HTTP/1.0 200 OK\\r\\n\\r\\n' + out).encode())",
    "    c.close()",
]


def keel(*args, timeout=3600):
    p = subprocess.run([keel_path(), *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def prepare(d, tmp, snap):
    """Boot, log in, wait for systemd, write the service; snapshot there,
    to snap (its disk overlay, which it names, beside it as snap.kov)."""
    sock = os.path.join(tmp, "boot.sock")
    g = Guest(deb.boot_args(d, snap + ".kov", extra=["--api-sock", sock]), timeout=1500)
    try:
        api = wait_for_socket(sock, g.proc)
        deb.login(g)
        deb.system_state(g)
        quoted = " ".join("'" + line.replace("'", "'\\''") + "'" for line in SERVICE)
        _, rc = g.run(f"printf '%s\\n' {quoted} > /root/vulnsrv.py && python3 -m py_compile "
                      "/root/vulnsrv.py")
        check(rc == 0, "writing the service")
        g.run("sync")
        r = api.call({"cmd": "snapshot", "path": snap})
        check(r["ok"], f"snapshot: {r}")
    finally:
        g.kill()
    return snap


def attack(g, port):
    msg = f"x;echo${{IFS}}{LINE}>>/etc/passwd"
    cport, reply = exchange(port, f"GET /echo?msg={msg} HTTP/1.0\r\nHost: guest\r\n\r\n"
                            .encode(), PATIENCE, 60)
    check(b"200 OK" in reply, f"the service's reply: {reply!r}; "
          f"its stderr: {g.run('cat /root/vulnsrv.err')[0]}")
    wait_for_line(g, polls=240)
    return cport


def record(d, tmp, snap, log, keys):
    web, svc = free_port(), free_port()
    net = f"user,hostfwd=tcp:127.0.0.1:{web}-:80,hostfwd=tcp:127.0.0.1:{svc}-:4444"
    g = Guest([], command=[keel_path(), "record", "--log", log, "--seal-key", keys["seal"],
                           "--restore", snap, "--overlay", os.path.join(tmp, "rec.kov"),
                           "-m", "1G", "--net", net], timeout=1500)
    try:
        shell = int(g.run("echo $$")[0].split()[-1])
        cron = int(g.run("(while :; do date > /root/status; sleep 1; done) >/dev/null 2>&1 & "
                         "echo $!")[0].split()[-1])
        srv = int(g.run("python3 /root/vulnsrv.py >/dev/null 2>/root/vulnsrv.err & echo $!")[0]
                  .split()[-1])
        for _ in range(240):
            if g.run("test -e /run/vulnsrv.ready")[1] == 0:
                break
            time.sleep(0.5)
        else:
            check(False, f"the service did not start: {g.run('cat /root/vulnsrv.err')[0]}")
        g.run("read status < /root/status; echo \"$status\" >/dev/null")
        benign = [fetch(web, "nginx", PATIENCE, 60)]
        attacker = attack(g, svc)
        benign.append(fetch(web, "nginx", PATIENCE, 60))
        g.run("sleep 2")
        g.power_off(600)
    finally:
        g.kill()
    return {"shell": shell, "cron": cron, "service": srv, "benign": benign,
            "attacker": attacker}


def check_why(log, keys, who):
    outs = []
    for i in range(RUNS):
        rc, out, err = keel("analyze", log, "--key", keys["verify"], "--why", "/etc/passwd")
        check(rc == 0, f"analyze run {i}: rc={rc} {err[-2000:]}")
        print(err.strip().splitlines()[-1])
        outs.append(out)
    print(outs[0])
    check(all(o == outs[0] for o in outs), f"{RUNS} runs gave {len(set(outs))} different answers")
    ports = [int(p) for p in re.findall(r"client port (\d+)", outs[0])]
    check(ports == [who["attacker"]], f"client ports {ports}, the attacker's is {who['attacker']}")
    rc, out, err = keel("analyze", log, "--key", keys["verify"], "--why", "/etc/passwd", "--json")
    check(rc == 0, f"analyze --json: rc={rc} {err[-2000:]}")
    ans = json.loads(out)
    conns = ans["connections"]
    check(len(conns) == 1 and conns[0]["client_port"] == who["attacker"]
          and conns[0]["to"].endswith(":4444"), f"connections: {conns}")
    chain = ans["chain"]
    pids = [p["pid"] for p in chain]
    check(chain[0]["comm"] == "sh" and chain[0]["pid"] == ans["write"]["pid"]
          and pids[1:3] == [who["service"], who["shell"]] and pids[-1] == 1,
          f"chain {[(p['pid'], p['comm']) for p in chain]}; service {who['service']}, "
          f"console shell {who['shell']}")
    check(chain[1]["comm"] == "python3" and chain[2]["comm"] == "bash", f"chain: {chain[:3]}")
    nodes = ans["graph"]["nodes"]
    names = {n["name"] for n in nodes if n["type"] != "process"}
    check(who["cron"] not in {n["pid"] for n in nodes if n["type"] == "process"}
          and "/root/status" not in names, f"the cron loop is in the answer: {names}")
    check(not any(f":{p}" in n for p in who["benign"] for n in names), f"benign: {names}")


def check_taint(log, keys, who):
    rc, out, err = keel("analyze", log, "--key", keys["verify"], "--taint", "/etc/passwd",
                        "--json")
    check(rc == 0, f"--taint: rc={rc} {err[-2000:]}")
    t = json.loads(out)
    ans = [(a["client_port"], a["server_port"], a["bytes"]) for a in t["answer"]]
    # Every byte of the line is the attacker's.  dash's echo appends the
    # newline from its format string, yet the engine labels it too (26 of
    # 26, docs/analyze.md "Not done"): one byte of over-taint allowed.
    check(len(ans) == 1 and ans[0][:2] == (who["attacker"], 4444)
          and len(LINE) <= ans[0][2] <= len(LINE) + 1 and t["bytes_written"] == len(LINE) + 1,
          f"--taint /etc/passwd: {ans}, {t['bytes_written']} bytes written; the attacker is "
          f"{who['attacker']}, {len(LINE)} bytes")
    print(f"--taint: {ans[0][2]} of {t['bytes_written']} bytes from client port {who['attacker']}"
          f" ({err.strip().splitlines()[-1] if err.strip() else ''})")


def test():
    d = deb.debian_dir()
    with tempfile.TemporaryDirectory() as tmp:
        keys = {"seal": os.path.join(tmp, "seal.key"), "verify": os.path.join(tmp, "verify.key")}
        rc, _, err = keel("log", "keygen", "--seal-key", keys["seal"], "--verify-key",
                          keys["verify"])
        check(rc == 0, f"keygen: {err}")
        t0 = time.monotonic()
        # ANALYZE_SNAP=FILE (for working on the test): reuse the shell
        # snapshot (and FILE.kov) this test made there before, or make it.
        snap = os.environ.get("ANALYZE_SNAP") or os.path.join(tmp, "shell.snap")
        if not os.path.exists(snap):
            prepare(d, tmp, snap)
            print(f"booted and snapshotted at a root shell in {time.monotonic() - t0:.0f} s")
        log = os.path.join(tmp, "log")
        who = record(d, tmp, snap, log, keys)
        print(f"recorded: {who}")
        check_why(log, keys, who)
        check_taint(log, keys, who)


if __name__ == "__main__":
    main(test)
