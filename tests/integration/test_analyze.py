#!/usr/bin/env python3
"""Replay analysis (docs/analyze.md): which connection changed /etc/passwd?

One recorded session of the default guest: a cron-like loop rewrites
/root/status every second; the deliberately vulnerable service of the
prevention tests (tests/guest/vulnsrv.c, one child per connection, whose
/echo?msg= runs `echo MSG` through popen, as uid 1000 unless /admin with
an empty key gave root back) listens; two benign clients fetch pages from
the guest's web server (busybox httpd), one before and one after the
attack; the attacker's requests get root and inject a command that
appends a line to /etc/passwd.  After the service started, the console
shell (an ancestor of the attacker's shell) reads /root/status: a flow
that time order must prune.

Then `keel analyze LOG --why /etc/passwd` must name exactly the
attacker's connection (its client port, as the host saw it) and the
process chain (popen's shell, vulnsrv's child for the connection,
vulnsrv, the console shell, init), and none of
the benign connections or the cron processes; ten runs print the same
answer byte for byte.  --json gives the same answer as a graph; --at
before the attack finds no write; a tampered copy of the log is refused
before any analysis; the --html page (with the detector run over the same
replay) loads in headless chromium, shows the answer's nodes and the
detector's alert in its DOM, and a screenshot is taken.  `--taint
/etc/passwd` on the same log names the attacker's connection alone, for
every byte of the line it injected (carried through vulnsrv's buffers,
popen's argv and the shell's echo); only echo's newline is unlabelled.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse

import vulnsrv
from guestlib import (Guest, boot_args, check, free_port, keel_path, main,
                      tampered_copy)

APPEND = "console=ttyS0"
RUNS = int(os.environ.get("ANALYZE_RUNS", "10"))
LINE = "toor:x:0:0::/root:/bin/sh"


def keel(*args, timeout=1800):
    p = subprocess.run([keel_path(), *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def connect(port, tries=60, timeout=30):
    for _ in range(tries):
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=timeout)
        except OSError:
            time.sleep(0.5)
    check(False, f"127.0.0.1:{port} unreachable")


def exchange(port, request, tries=60, timeout=30):
    """Send request on a new connection and read until the server closes.
    Returns (the client port, the reply)."""
    s = connect(port, tries, timeout)
    cport = s.getsockname()[1]
    s.sendall(request)
    reply = b""
    while chunk := s.recv(65536):
        reply += chunk
    s.close()
    return cport, reply


def fetch(port, server="httpd", tries=60, timeout=30):
    """A benign client: one page from the web server.  Returns its client
    port."""
    for _ in range(30):
        cport, data = exchange(port, b"GET / HTTP/1.0\r\nHost: guest\r\n\r\n", tries, timeout)
        if b"200 OK" in data:
            return cport
        time.sleep(1)  # the forward may answer before the server is up
    check(False, f"no page from {server}")


def wait_for_line(g, polls=120):
    """Until the attacker's line is in the guest's /etc/passwd."""
    for _ in range(polls):
        out, _ = g.run("grep -c toor /etc/passwd")
        if out.strip().endswith("1"):
            return
        time.sleep(0.5)
    check(False, "the attacker's line never reached /etc/passwd")


def attack(g, port):
    """The attacker, on one keep-alive connection: vulnsrv's /admin with an
    empty key (its handler, uid 1000, gets root back), then a command
    injected into its /echo.  Returns its client port."""
    msg = urllib.parse.quote(f"x; echo '{LINE}' >> /etc/passwd")
    cport, reply = exchange(port, f"GET /admin?key= HTTP/1.1\r\nHost: guest\r\n\r\n"
                            f"GET /echo?msg={msg} HTTP/1.1\r\nHost: guest\r\n"
                            "Connection: close\r\n\r\n".encode())
    check(b"admin: uid 0" in reply and reply.count(b"200 OK") == 2,
          f"vulnsrv's replies to the attacker: {reply!r}")
    wait_for_line(g)
    return cport


def record(tmp, log, keys):
    web, svc = free_port(), free_port()
    net = f"user,hostfwd=tcp:127.0.0.1:{web}-:80,hostfwd=tcp:127.0.0.1:{svc}-:4444"
    args = [a for a in boot_args(net=net, append=APPEND) if a not in ("--idle-sleep", "off")]
    args[args.index("--initrd") + 1] = vulnsrv.initramfs()
    g = Guest([], command=[keel_path(), "record", "--log", log, "--seal-key", keys["seal"]]
              + args, timeout=600)
    try:
        g.wait_ready()
        shell = int(g.run("echo $$")[0].split()[-1])
        cron = int(g.run("(while :; do date > /root/status; sleep 1; done) >/dev/null 2>&1 & "
                         "echo $!")[0].split()[-1])
        srv = int(g.run("vulnsrv 4444 >/dev/null 2>&1 & echo $!")[0].split()[-1])
        g.run("sleep 2; read status < /root/status; echo \"$status\" >/dev/null")
        benign = [fetch(web)]
        attacker = attack(g, svc)
        benign.append(fetch(web))
        g.run("sleep 2")
        g.power_off(180)
    finally:
        g.kill()
    return {"shell": shell, "cron": cron, "vulnsrv": srv, "benign": benign, "attacker": attacker}


def check_answer(log, keys, who):
    outs = []
    for i in range(RUNS):
        rc, out, err = keel("analyze", log, "--key", keys["verify"], "--why", "/etc/passwd")
        check(rc == 0, f"analyze run {i}: rc={rc} {err}")
        print(err.strip().splitlines()[-1])
        outs.append(out)
    print(outs[0])
    check(all(o == outs[0] for o in outs), f"{RUNS} runs gave {len(set(outs))} different answers")
    text = outs[0]
    ports = [int(p) for p in re.findall(r"client port (\d+)", text)]
    check(ports == [who["attacker"]], f"client ports {ports}, the attacker's is {who['attacker']}")
    for p in who["benign"]:
        check(str(p) not in text, f"a benign client's port {p} is in the answer")

    rc, out, err = keel("analyze", log, "--key", keys["verify"], "--why", "/etc/passwd", "--json")
    check(rc == 0, f"analyze --json: rc={rc} {err}")
    ans = json.loads(out)
    conns = ans["connections"]
    check(len(conns) == 1 and conns[0]["client_port"] == who["attacker"]
          and conns[0]["to"].endswith(":4444") and conns[0]["accepted"],
          f"connections: {conns}")
    check(conns[0]["frames"] > 0 and conns[0]["read_by"], f"the connection's frames: {conns[0]}")
    chain = [p["pid"] for p in ans["chain"]]
    # popen's shell wrote; vulnsrv forked a child for the connection
    check(ans["write"]["pid"] == chain[0] and chain[2:4] == [who["vulnsrv"], who["shell"]]
          and chain[-1] == 1, f"chain {chain}; vulnsrv {who['vulnsrv']}, "
          f"console shell {who['shell']}")
    check(ans["chain"][0].get("exe") == "/bin/busybox" and ans["chain"][0]["comm"] == "sh",
          f"the writer: {ans['chain'][0]}")
    check(ans["chain"][1]["comm"] == "vulnsrv" and
          ans["chain"][1]["pid"] in [r["pid"] for r in conns[0]["read_by"]],
          f"the connection was not read by vulnsrv's child: {ans['chain'][1]} {conns[0]}")
    pids = {n["pid"] for n in ans["graph"]["nodes"] if n["type"] == "process"}
    names = {n["name"] for n in ans["graph"]["nodes"] if n["type"] != "process"}
    check(who["cron"] not in pids and "/root/status" not in names,
          f"the cron job is in the answer: {sorted(pids)} {sorted(names)}")
    check(ans["graph"]["pruned_edges"] > 0, "nothing pruned by time order")
    check(not any(f":{p}" in n for p in who["benign"] for n in names), f"benign: {names}")
    return ans


def check_taint(log, keys, who):
    rc, out, err = keel("analyze", log, "--key", keys["verify"], "--taint", "/etc/passwd",
                        "--json")
    check(rc == 0, f"--taint: rc={rc} {err}")
    t = json.loads(out)
    ans = [(a["client_port"], a["server_port"], a["bytes"]) for a in t["answer"]]
    check(ans == [(who["attacker"], 4444, len(LINE))] and t["bytes_written"] == len(LINE) + 1,
          f"--taint /etc/passwd: {ans}, {t['bytes_written']} bytes written; the attacker is "
          f"{who['attacker']}, {len(LINE)} bytes")
    print(f"--taint: {len(LINE)} of {t['bytes_written']} bytes from client port {who['attacker']}")


def check_at(log, keys, ans):
    first = ans["connections"][0]["read_by"][0]["icount"]
    rc, out, err = keel("analyze", log, "--key", keys["verify"], "--why", "/etc/passwd",
                        "--at", str(first))
    check(rc == 1 and "not written at or before" in err and not out,
          f"--at before the attack: rc={rc} {err}")


def check_tampered(tmp, log, keys):
    copy = tampered_copy(log, os.path.join(tmp, "tampered"))
    t0 = time.monotonic()
    rc, out, err = keel("analyze", copy, "--key", keys["verify"], "--why", "/etc/passwd")
    check(rc == 1 and "TAMPERED" in err and not out and "replayed" not in err,
          f"tampered log: rc={rc} out={out[:200]!r} err={err[-400:]}")
    print(f"tampered log refused in {time.monotonic() - t0:.2f} s: {err.strip().splitlines()[-1]}")
    shutil.rmtree(copy)
    # No log at all is an error, not a verdict: it must not say TAMPERED.
    rc, out, err = keel("analyze", copy, "--why", "/etc/passwd")
    check(rc == 1 and "cannot verify the log" in err and "No such file" in err
          and "TAMPERED" not in err and not out, f"missing log: rc={rc} err={err[-400:]}")


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    check(False, "no chromium (scripts/bootstrap installs Debian's)")


def check_html(tmp, log, keys, ans):
    page, shot = os.path.join(tmp, "timeline.html"), os.path.join(tmp, "timeline.png")
    policy = os.path.join(tmp, "policy.json")
    with open(policy, "w") as f:
        json.dump({"policies": {"system_files": {}}}, f)
    rc, out, err = keel("analyze", log, "--key", keys["verify"], "--why", "/etc/passwd",
                        "--html", page, "--ids", policy)
    check(rc == 0 and os.path.getsize(page) > 100000, f"--html: rc={rc} {err}")
    html = open(page).read()
    check("d3={version:" in html and "src=" not in html.split("<body>")[1],
          "the page does not inline d3, or loads something")
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={os.path.join(tmp, 'chromium')}", "--window-size=1400,1000"]
    p = subprocess.run(base + ["--virtual-time-budget=5000", "--dump-dom", "file://" + page],
                       capture_output=True, text=True, timeout=180)
    dom = p.stdout
    check(p.returncode == 0 and "<svg" in dom, f"chromium --dump-dom: rc={p.returncode} "
          f"{p.stderr[-500:]}")
    conn = ans["connections"][0]["node"]
    check(re.search(rf'<li class="answer-node connection" data-node="{conn}">[^<]*client port '
                    rf'{ans["connections"][0]["client_port"]}', dom),
          "the DOM lacks the answer's connection")
    check(re.search(rf'class="lane conn answer" id="lane-{conn}"', dom),
          "the answer's connection lane is not highlighted")
    for p_ in ans["chain"]:
        check(f'data-node="{p_["node"]}" data-pid="{p_["pid"]}"' in dom and
              re.search(rf'class="lane proc answer" id="lane-{p_["node"]}"', dom),
              f"the DOM lacks the answer's process {p_}")
    check('class="ev write answer-write"' in dom, "the write is not marked")
    check('id="lane-cpu"' in dom and dom.count('<rect class="cpu"') == 400,
          "the CPU lane is not drawn")
    # the detector ran over the same replay: its /etc/passwd alert is on the timeline
    check(re.search(r'<rect class="alert"[^>]*><title>system_files: pid ' + str(ans["write"]["pid"]),
                    dom), "the detector's alert is not on the timeline")
    p = subprocess.run(base + [f"--screenshot={shot}", "file://" + page], capture_output=True,
                       text=True, timeout=180)
    check(p.returncode == 0 and os.path.exists(shot) and os.path.getsize(shot) > 10000,
          f"chromium --screenshot: rc={p.returncode} {p.stderr[-500:]}")
    with open(shot, "rb") as f:
        check(f.read(8) == b"\x89PNG\r\n\x1a\n", "the screenshot is not a PNG")
    print(f"page {os.path.getsize(page)} bytes; screenshot {os.path.getsize(shot)} bytes")


def test():
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log")
        keys = {"seal": os.path.join(tmp, "seal.key"), "verify": os.path.join(tmp, "verify.key")}
        rc, out, err = keel("log", "keygen", "--seal-key", keys["seal"], "--verify-key",
                            keys["verify"])
        check(rc == 0, f"keygen: {err}")
        who = record(tmp, log, keys)
        print(f"recorded: {who}")
        if os.environ.get("ANALYZE_KEEP"):
            shutil.copytree(log, os.environ["ANALYZE_KEEP"], dirs_exist_ok=True)
            shutil.copy(keys["verify"], os.path.join(os.environ["ANALYZE_KEEP"], "..", "verify.key"))
            json.dump(who, open(os.environ["ANALYZE_KEEP"] + ".json", "w"))
        ans = check_answer(log, keys, who)
        check_at(log, keys, ans)
        check_taint(log, keys, who)
        check_tampered(tmp, log, keys)
        check_html(tmp, log, keys, ans)


if __name__ == "__main__":
    main(test)
