#!/usr/bin/env python3
"""Byte taint over a recording: `keel analyze LOG --taint PATH` (docs/analyze.md,
"Byte taint").

One recorded session of the default guest with three inbound connections:
two benign ones (an HTTP GET to the guest's httpd, and an upload to a
`nc -l > /tmp/upload` listener) and an attacker's, to a listener that
hands out a shell (`nc -l -p 4444 -e /bin/sh`), whose first line appends
an account to /etc/passwd.  A line typed on the console is appended to
/etc/passwd too, before the attack: the console is not a connection.

  - `--taint /etc/passwd` names exactly the attacker's connection (its
    client port as the host saw it, server port 4444), with as many bytes
    as the line the attacker's shell wrote; the console's write carries no
    label, and the benign connections are not in the answer;
  - `--taint /tmp/upload` names exactly the upload connection: the benign
    bytes are followed too, so their absence above means something;
  - the answer is the same, byte for byte, on a second run;
  - a tampered log is refused before any analysis.
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

from guestlib import (Guest, boot_args, check, free_port, keel_path, main,
                      tampered_copy)

ATTACK = "echo 'evil:x:0:0:pwned:/root:/bin/sh' >> /etc/passwd\n"
EVIL_LINE = "evil:x:0:0:pwned:/root:/bin/sh\n"
CONSOLE_LINE = "op:x:1000:1000::/home/op:/bin/sh"
UPLOAD = "benign upload: quarterly numbers 1 2 3 4 5 6 7 8 9\n"


def keel(*args, timeout=1800):
    p = subprocess.run([keel_path(), *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def connect(port):
    for _ in range(60):
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=20)
        except OSError:
            time.sleep(0.5)
    check(False, f"port {port} unreachable")


def scenario(g, ports):
    """The three connections; returns each one's host-side client port."""
    g.run("nc -l -p 4444 -e /bin/sh >/dev/null 2>&1 & nc -l -p 5555 > /tmp/upload 2>/dev/null & true")
    g.run(f"echo '{CONSOLE_LINE}' >> /etc/passwd")
    clients = {}
    # benign 1: a web page
    for _ in range(30):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ports['http']}/", timeout=20) as r:
                r.read()
            break
        except OSError:
            time.sleep(1)
    else:
        check(False, "httpd unreachable")
    # benign 2: an upload kept in a file
    s = connect(ports["upload"])
    clients["upload"] = s.getsockname()[1]
    s.sendall(UPLOAD.encode())
    s.close()
    out, _ = g.run("sleep 1; cat /tmp/upload")
    check(UPLOAD.strip() in out, f"the upload did not arrive: {out!r}")
    # the attacker
    s = connect(ports["shell"])
    clients["shell"] = s.getsockname()[1]
    s.sendall(ATTACK.encode())
    for _ in range(60):
        out, _ = g.run("grep -c evil /etc/passwd")
        if out.strip() == "1":
            break
        time.sleep(1)
    else:
        check(False, "the attacker's line never reached /etc/passwd")
    s.sendall(b"exit\n")
    s.close()
    return clients


def analyze(log, path):
    rc, out, err = keel("analyze", log, "--taint", path, "--json")
    check(rc == 0, f"analyze --taint {path}: exit {rc}: {err[-2000:]}")
    return json.loads(out), out


def check_passwd(r, clients):
    ans = r["answer"]
    check(len(ans) == 1, f"--taint /etc/passwd names {len(ans)} connections: {ans}")
    a = ans[0]
    check(a["proto"] == "tcp" and a["server_port"] == 4444,
          f"the answer is not the attacker's connection: {a}")
    check(a["client_port"] == clients["shell"],
          f"client port {a['client_port']}, the attacker's was {clients['shell']}")
    # echo's own newline is no one's: the attacker's bytes are the rest
    check(a["bytes"] == len(EVIL_LINE) - 1,
          f"{a['bytes']} bytes, the attacker's part of the line is {len(EVIL_LINE) - 1}")
    ports = {c["server_port"] for c in r["connections"]}
    check({80, 4444, 5555} <= ports, f"the three connections were not all seen: {ports}")
    labelled = [w for w in r["writes"] if w["labelled"]]
    check(len(labelled) == 1 and "evil" in labelled[0]["text"]
          and labelled[0]["labels"] == [a["label"]], f"labelled writes: {labelled}")
    console = [w for w in r["writes"] if CONSOLE_LINE in w["text"]]
    check(len(console) == 1 and console[0]["labelled"] == 0,
          f"the console's write: {console}")


def check_upload(r, clients):
    ans = r["answer"]
    check(len(ans) == 1 and ans[0]["server_port"] == 5555
          and ans[0]["client_port"] == clients["upload"],
          f"--taint /tmp/upload: {ans} (upload client port {clients['upload']})")
    check(ans[0]["bytes"] == len(UPLOAD), f"{ans[0]['bytes']} bytes, sent {len(UPLOAD)}")


def check_tampered(tmp, log):
    copy = tampered_copy(log, os.path.join(tmp, "tampered"))
    t0 = time.monotonic()
    rc, out, err = keel("analyze", copy, "--taint", "/etc/passwd", "--json", timeout=120)
    check(rc != 0 and "TAMPERED" in err and not out.strip(),
          f"a tampered log was analysed: exit {rc} {out[:200]} {err[-600:]}")
    check(time.monotonic() - t0 < 60, "the tampered log was replayed before it was refused")


def test():
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log")
        keys = {"seal": os.path.join(tmp, "seal.key"), "verify": os.path.join(tmp, "verify.key")}
        rc, _, err = keel("log", "keygen", "--seal-key", keys["seal"], "--verify-key",
                          keys["verify"])
        check(rc == 0, f"keygen: {err}")
        ports = {"http": free_port(), "shell": free_port(), "upload": free_port()}
        net = ("user,hostfwd=tcp:127.0.0.1:{http}-:80,hostfwd=tcp:127.0.0.1:{shell}-:4444,"
               "hostfwd=tcp:127.0.0.1:{upload}-:5555").format(**ports)
        args = boot_args(net=net)
        g = Guest([], command=[keel_path(), "record", "--log", log, "--seal-key", keys["seal"]]
                  + args, timeout=600)
        try:
            g.wait_ready()
            clients = scenario(g, ports)
            g.send("poweroff -f\n")
            check(g.wait_exit(180) == 0, f"record exit: {g.stderr()}")
        finally:
            g.kill()
        shutil.copy(keys["verify"], os.path.join(log, "verify.key"))
        t0 = time.monotonic()
        r, first = analyze(log, "/etc/passwd")
        secs = time.monotonic() - t0
        t0 = time.monotonic()
        rc, _, err = keel("replay", log, "--quiet")
        plain = time.monotonic() - t0
        check(rc == 0, f"plain replay: {err[-500:]}")
        print(f"--taint /etc/passwd: {r['answer']} ({secs:.1f} s, a plain replay {plain:.1f} s; "
              f"taint from icount {r['taint_from_icount']})")
        check_passwd(r, clients)
        _, again = analyze(log, "/etc/passwd")
        check(again == first, "a second analysis gave another answer")
        r, _ = analyze(log, "/tmp/upload")
        print(f"--taint /tmp/upload: {r['answer']}")
        check_upload(r, clients)
        rc, text, err = keel("analyze", log, "--taint", "/etc/passwd")
        check(rc == 0 and f"client port {clients['shell']}" in text and "evil" in text,
              f"the text answer: {text} {err[-500:]}")
        check_tampered(tmp, log)


if __name__ == "__main__":
    main(test)
