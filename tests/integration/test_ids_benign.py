#!/usr/bin/env python3
"""The intrusion detector's default thresholds against benign work
(docs/ids.md, "Default thresholds"): every module on with its defaults
(bench/ids-policy.json, the kernel text hashed too), keel's defaults
(guest time paced against wall time), and no alert allowed.

Default guest (make test): boot on its ext4 disk, console commands, a copy
of /etc (less /etc/shadow), tar/gzip/gunzip/sha256sum, dd to the disk and sync, a periodic
job every 2 s, a program fetched from the host with wget, every kbench
workload of bench/guest-bench at its benchmark size (CPU, memory, FP,
spawn, pipe, shell), 200 requests to the guest's httpd, idle time.  (The Debian guest's benign boot is in test_ids_debian.py,
part of make test-debian.)

Prints the summary's peaks (the largest values each threshold met), which
docs/ids.md quotes."""
import functools
import http.server
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request

from guestlib import Guest, boot_args, check, free_port, guest_files, main

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import benchlib  # noqa: E402


def default_policy(tmp, out):
    with open(os.path.join(HERE, "..", "..", "bench", "ids-policy.json")) as f:
        p = json.load(f)
    p["output"] = out
    path = os.path.join(tmp, "policy.json")
    with open(path, "w") as f:
        json.dump(p, f)
    return path


def lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def verdict(out, what):
    got = lines(out)
    alerts = [a for a in got if "policy" in a]
    summary = [a["summary"] for a in got if "summary" in a]
    check(summary, f"{what}: no summary line in {got}")
    s = summary[-1]
    print(f"{what}: {s['alerts']} alerts in {s['guest_ns'] / 1e9:.0f} guest s, "
          f"{s['icount'] / 1e9:.1f} G instructions; peaks {json.dumps(s['peaks'])}", flush=True)
    check(s["kernel_found"] and s["peaks"]["processes"] > 0,
          f"{what}: the detector never found the guest kernel: nothing was watched")
    check(alerts == [] and s["alerts"] == 0, f"{what}: false alarms: {alerts}")
    return s


def serve(directory):
    """A host HTTP server over directory (the guest fetches from 10.0.2.2)."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                          functools.partial(Quiet, directory=directory))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def fetch(url):
    for _ in range(30):
        try:
            with urllib.request.urlopen(url, timeout=20) as r:
                return r.read().decode()
        except OSError:
            time.sleep(1)
    check(False, f"{url} unreachable")


def default_guest(tmp):
    image = benchlib.bench_initramfs(lambda msg: print(msg, flush=True))
    out = os.path.join(tmp, "alerts.jsonl")
    policy = default_policy(tmp, out)
    srv = serve(image["dir"])
    fwd = free_port()
    disk = f"{guest_files()['rootfs']},overlay={os.path.join(tmp, 'disk.kov')}"
    args = [a for a in boot_args(net=f"user,hostfwd=tcp:127.0.0.1:{fwd}-:80", disk=disk)
            if a not in ("--idle-sleep", "off")]  # keel's default pacing
    g = Guest(args + ["--ids", policy], timeout=600)
    try:
        g.wait_ready()
        cmds = ["echo hello; ls / >/dev/null; cat /etc/passwd >/dev/null; id; ps >/dev/null",
                # /etc but /etc/shadow: reading it, then compressing for 2 s
                # is shadow_burst's pattern (docs/ids.md, blind spots)
                "mkdir -p /root/work/etc && for f in /etc/*; do [ $f = /etc/shadow ] || "
                "cp -a $f /root/work/etc/; done && cp -a /bin/busybox /root/work/",
                "tar cf /root/t.tar /root/work && gzip -9 /root/t.tar && "
                "gunzip -c /root/t.tar.gz | tar tf - >/dev/null",
                "sha256sum /root/work/busybox /root/t.tar.gz",
                "dd if=/dev/zero of=/root/zero bs=64k count=256 && sync",
                "(while :; do sha256sum /etc/passwd >/dev/null; date >>/root/cron.log; sleep 2; "
                "done) & echo $! > /root/job.pid",
                f"wget -q -O /root/kbench http://10.0.2.2:{srv.server_address[1]}/kbench && "
                "chmod +x /root/kbench"]
        for c in cmds:
            _, rc = g.run(c, timeout=900)
            check(rc == 0, f"benign command failed: {c}")
        for w in benchlib.WORKLOADS:
            o, rc = g.run(f"/root/kbench {w.name} {w.size}", timeout=1200)
            got = benchlib.parse_result(o)
            check(rc == 0 and got and got[2] == w.expected[w.size], f"kbench {w.name}: {o!r}")
            print(f"kbench {w.name} {w.size}: {got[3]:.1f} guest s", flush=True)
        for _ in range(200):
            check("keel" in fetch(f"http://127.0.0.1:{fwd}/"), "web page")
        g.run("sleep 15", timeout=300)  # the periodic job on an otherwise idle guest
        g.run("kill $(cat /root/job.pid); rm -rf /root/work /root/t.tar.gz /root/zero; sync")
        g.send("poweroff -f\n")
        check(g.wait_exit(300) == 0, f"keel exit: {g.stderr()[-2000:]}")
    finally:
        g.kill()
        srv.shutdown()
    verdict(out, "default guest")


def test():
    with tempfile.TemporaryDirectory() as tmp:
        default_guest(tmp)


if __name__ == "__main__":
    main(test)
