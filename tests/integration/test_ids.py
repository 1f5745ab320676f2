#!/usr/bin/env python3
"""Intrusion detection from below (docs/ids.md).

One recorded session under `keel record --ids POLICY` with every module on:
first a benign mix (console commands, tar/gzip/sha256 over files, dd to
the disk, a periodic job, the guest's web server under 200 requests from
the host) that must raise no alert; then attacks typed into the guest's
shell, none of them named to the detector: an append to /etc/passwd,
promiscuous mode on eth0, a netcat listener that hands out a shell, a
shell-loop "cracker" that reads /etc/shadow and burns CPU, and a delayed
CPU burner no person started.  Each must raise its policy's alert naming
the right process within the stated latency.  Then `keel replay --ids`
must give the same alerts at the same instruction counts (host time
aside), three times, and `keel replay --until ICOUNT --inspect ps` must
show the alert's process.  Before that: bad policy files are refused before anything runs;
the snapshot, kill and pause responses are carried out; the lie detector
finds a process hidden from below in a saved VM."""
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.request

from guestlib import Guest, boot_args, check, free_port, guest_files, keel_path, main

APPEND = "console=ttyS0"
POLICY = {
    "policies": {
        "lie_detector": {"every_s": 2},
        "system_files": {},
        "kernel_integrity": {"every_s": 2},
        "raw_sockets": {},
        "shadow_burst": {"burst_s": 2, "busy_mips": 5},
        "cpu_no_person": {"burst_s": 3, "grace_s": 3, "busy_mips": 5},
        "network": {"listen_allow": [80]},
        "service_shell": {},
        "process_flood": {},
    }
}
# Latency: an alert about a system call is written at that call's return,
# before the command that made it has finished; a CPU alert comes at most
# burst_s + 2 guest seconds after the burst began.
CPU_LATENCY_NS = {"shadow_burst": 4_000_000_000, "cpu_no_person": 5_000_000_000}


def alerts(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip() and '"policy"' in line]


def wait_alert(path, policy, pred=lambda a: True, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for a in alerts(path):
            if a["policy"] == policy and pred(a):
                return a
        time.sleep(0.5)
    raise AssertionError(f"no {policy} alert within {timeout} s; alerts: {alerts(path)}")


def fetch(url):
    for _ in range(30):
        try:
            with urllib.request.urlopen(url, timeout=20) as r:
                return r.read().decode()
        except OSError:
            time.sleep(1)
    check(False, f"{url} unreachable")


def benign(g, out, fwd):
    """Everyday work with every policy on: not one alert."""
    g.run("echo hello; ls / >/dev/null; cat /etc/passwd >/dev/null; id")
    cmds = ["mkdir -p /root/work && cp -a /etc /bin/busybox /root/work/",
            "tar cf /root/t.tar /root/work && gzip -9 /root/t.tar && gunzip -c /root/t.tar.gz | tar tf - >/dev/null",
            "sha256sum /root/work/busybox /root/t.tar.gz",
            "dd if=/dev/zero of=/root/zero bs=64k count=128 && sync",
            # a periodic job: short work every 2 s
            "(while :; do sha256sum /etc/passwd >/dev/null; sleep 2; done) & echo $! > /root/job.pid"]
    for c in cmds:
        _, rc = g.run(c, timeout=600)
        check(rc == 0, f"benign command failed: {c}")
    for _ in range(200):
        check("keel" in fetch(f"http://127.0.0.1:{fwd}/"), "web page")
    g.run("sleep 8", timeout=300)  # the periodic job runs on while nothing else does
    g.run("kill $(cat /root/job.pid); rm -rf /root/work /root/t.tar.gz /root/zero")
    got = alerts(out)
    check(got == [], f"false alarms on benign work: {got}")


def attacks(g, out):
    shell_pid = int(g.run("echo $$")[0].split()[-1])
    g.run("echo 'toor:x:0:0::/root:/bin/sh' >> /etc/passwd")
    a = wait_alert(out, "system_files", timeout=5)
    check(a["pid"] == shell_pid and a["evidence"]["path"] == "/etc/passwd",
          f"passwd alert names the wrong process or file: {a}")

    # /etc/shadow overwritten through the raw disk: no openat of it, the
    # write is seen below and mapped back to the file (libext2fs)
    blk = block_of(guest_files()["rootfs"], "/etc/shadow")
    dd = int(g.run(f"dd if=/dev/zero of=/dev/vda bs=512 seek={blk * 8} count=1 conv=notrunc,fsync "
                   "2>/dev/null & echo $!; wait")[0].split()[-1])
    a = wait_alert(out, "system_files", lambda a: a["evidence"].get("via") == "disk", 30)
    check(a["pid"] == dd and a["evidence"]["path"] == "/etc/shadow" and a["evidence"]["block"] == blk,
          f"the raw disk write names the wrong process, file or block (dd {dd}, block {blk}): {a}")

    g.run("ip link set eth0 promisc on")
    a = wait_alert(out, "raw_sockets", lambda a: a["evidence"].get("iface") == "eth0", 5)
    check(a["comm"] == "ip" and a["chain"][1]["pid"] == shell_pid, f"promisc alert: {a}")
    g.run("ip link set eth0 promisc off")

    nc = int(g.run("nc -l -p 4444 -e /bin/sh & echo $!")[0].split()[-1])
    g.run("sleep 1; echo 'echo pwned' | nc 127.0.0.1 4444", timeout=120)
    a = wait_alert(out, "network", lambda a: a["evidence"].get("port") == 4444, 30)
    check(a["pid"] == nc, f"listener alert names {a['pid']}, nc is {nc}: {a}")
    a = wait_alert(out, "service_shell", timeout=30)
    check(a["pid"] == nc and a["evidence"]["shell"] == "/bin/sh", f"shell alert: {a}")

    # a cracker: reads the password hashes, then grinds
    cr = int(g.run("(cat /etc/shadow >/dev/null; i=0; while [ $i -lt 100000000 ]; do "
                   "i=$((i+1)); done) & echo $!")[0].split()[-1])
    a = wait_alert(out, "shadow_burst", timeout=300)
    check(a["pid"] == cr, f"shadow_burst names {a['pid']}, the cracker is {cr}: {a}")
    ev = a["evidence"]
    check(a["guest_ns"] - ev["burst_start_ns"] <= CPU_LATENCY_NS["shadow_burst"],
          f"shadow_burst too late: {a}")
    g.run(f"kill {cr}")

    # CPU that no person started: a burner that wakes up on its own
    cpu = int(g.run("(sleep 6; while :; do :; done) </dev/null >/dev/null 2>&1 & echo $!")[0]
              .split()[-1])
    a = wait_alert(out, "cpu_no_person", lambda a: a["pid"] == cpu, 300)
    check(a["guest_ns"] - a["evidence"]["burst_start_ns"] <= CPU_LATENCY_NS["cpu_no_person"],
          f"cpu_no_person too late: {a}")
    g.run(f"kill {cpu}")
    check(not [a for a in alerts(out) if a["policy"] in ("cpu_no_person", "shadow_burst")
               and a["pid"] not in (cr, cpu)], f"a CPU alert for another process: {alerts(out)}")
    return shell_pid


def block_of(image, path):
    """The first data block of path in an ext4 image, as debugfs (not
    keel) reads it."""
    p = subprocess.run(["/sbin/debugfs", "-R", f"blocks {path}", image], capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 0 and p.stdout.split(), f"debugfs blocks {path}: {p.stderr}")
    return int(p.stdout.split()[0])


def fork_bomb(g, out):
    """A bounded fork bomb (2^9 - 1 shells, each waiting on its two
    children or sleeping): process_flood names a process inside it, and its
    clone response leaves a paused clone whose own task list holds the
    bomb, for a person to inspect."""
    root = int(g.run("b(){ if [ $1 -lt 8 ]; then b $(($1+1)) & b $(($1+1)) & wait; "
                     "else sleep 20; fi; }; b 0 >/dev/null 2>&1 & echo $!")[0].split()[-1])
    a = wait_alert(out, "process_flood", timeout=120)
    check(root in [c["pid"] for c in a["chain"]] and a["evidence"]["descendants"] >= 256,
          f"process_flood names {a['pid']}, outside the bomb rooted at {root}: {a}")
    done = wait_response(out, "clone")
    check("sock" in done and done.get("alert") == a_number(out, a), f"clone: {done}")
    try:
        rc, st, err = keel("ctl", "--sock", done["sock"], "status")
        check(rc == 0 and json.loads(st)["state"] == "paused", f"the clone is not paused: {st} {err}")
        rc, ps, err = keel("ctl", "--sock", done["sock"], "inspect", "ps", "--json")
        pids = [r["pid"] for r in json.loads(ps)["rows"]] if rc == 0 else []
        check(root in pids and len(pids) >= 256, f"the clone's ps: rc={rc} {len(pids)} rows {err}")
    finally:
        quit_clones(out)
    g.run(f"wait {root}", timeout=300)
    clones = [j for j in map(json.loads, open(out)) if j.get("response") == "clone" and "policy" not in j]
    floods = [a for a in alerts(out) if a["policy"] == "process_flood"]
    check(len(clones) == 1, f"one bomb, one clone: {clones}; the alerts: {floods}")


def quit_clones(out):
    """Every clone the detector made, quit (and killed if it will not)."""
    if not os.path.exists(out):
        return
    for j in map(json.loads, open(out)):
        if j.get("response") != "clone" or "policy" in j or "pid" not in j:
            continue
        if not os.path.exists(f"/proc/{j['pid']}"):
            continue
        keel("ctl", "--sock", j["sock"], "quit")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and os.path.exists(f"/proc/{j['pid']}") and \
                not open(f"/proc/{j['pid']}/stat").read().split(") ")[-1].startswith("Z"):
            time.sleep(0.2)
        if time.monotonic() >= deadline:
            os.kill(j["pid"], 9)


def a_number(path, alert):
    """The alert's number (1-based, as response lines name it)."""
    return [a for a in alerts(path)].index(alert) + 1


def same_alerts(a, b):
    strip = lambda xs: [{k: v for k, v in x.items() if k != "host_ns"} for x in xs]
    return strip(a) == strip(b)


def bad_policies(tmp):
    """A bad file is refused with its reason before the guest runs."""
    cases = {
        '{"policies": {\n  "system_files": {},\n  "network": {"listen_allow": [80],}\n}}':
            r"bad\.json:3:\d+: ",
        '{"policies": {"system_files": {}, "rootkit_finder": {}}}': r"policies\.rootkit_finder: unknown policy",
        '{"policies": {"system_files": {"response": "reboot"}}}': r"response must be",
        '{"policies": {"network": {"listen_alow": [80]}}}': r"listen_alow: unknown key",
        '{"policies": {"process_flood": {"response": "clone"}}}': r"response clone needs --api-sock",
    }
    path = os.path.join(tmp, "bad.json")
    for text, want in cases.items():
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([keel_path(), "run", *boot_args(append=APPEND), "--ids", path],
                           capture_output=True, text=True, timeout=120)
        check(p.returncode == 1 and re.search(want, p.stderr) and not p.stdout,
              f"policy {text!r}: rc={p.returncode} stderr={p.stderr!r} stdout={p.stdout[:200]!r}")


def keel(*args, timeout=300):
    p = subprocess.run([keel_path(), *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def responses(tmp):
    """snapshot, kill and pause, carried out; and the lie detector on a
    process hidden from below in a saved VM (the guest has no modules for
    a rootkit: vmi_hide unlinks the task from the task list as one would)."""
    policy, out = os.path.join(tmp, "resp.json"), os.path.join(tmp, "resp.jsonl")
    with open(policy, "w") as f:
        json.dump({"snapshot_dir": tmp, "policies": {
            "system_files": {"response": "snapshot"},
            "shadow_burst": {"burst_s": 2, "busy_mips": 5, "response": "kill"},
            "lie_detector": {"every_s": 1},
            "raw_sockets": {"response": "pause"},
            "process_flood": {"response": "clone"}}}, f)
    # the restored run has no control socket to serve a clone on
    policy2 = os.path.join(tmp, "resp2.json")
    with open(policy) as f:
        p2 = json.load(f)
    del p2["policies"]["process_flood"]
    with open(policy2, "w") as f:
        json.dump(p2, f)
    sock, snap = os.path.join(tmp, "k.sock"), os.path.join(tmp, "live.keel")
    args = [a for a in boot_args(net="none", append="console=ttyS0 keel.net=off")
            if a not in ("--idle-sleep", "off")]
    g = Guest(args + ["--ids", policy, "--ids-out", out, "--api-sock", sock])
    try:
        g.wait_ready()
        shell_pid = int(g.run("echo $$")[0].split()[-1])
        g.run("echo x >> /etc/passwd")
        a = wait_alert(out, "system_files", timeout=5)
        done = wait_response(out, "snapshot")
        check(done.get("alert") == 1 and os.path.exists(done.get("file", "")), f"snapshot: {done}")
        rc, ps, err = keel("inspect", done["file"], "ps", "--json")
        check(rc == 0 and shell_pid in [r["pid"] for r in json.loads(ps)["rows"]],
              f"the alert's snapshot: rc={rc} {err}")
        cr = int(g.run("(cat /etc/shadow >/dev/null; while :; do :; done) & echo $!")[0].split()[-1])
        a = wait_alert(out, "shadow_burst", timeout=300)
        done = wait_response(out, "kill")
        check(a["pid"] == cr and done.get("pid") == cr, f"kill: {a} {done}")
        g.run("sleep 1")
        _, rc = g.run(f"kill -0 {cr} 2>/dev/null")
        check(rc != 0, f"the cracker {cr} is still alive after the kill response")
        fork_bomb(g, out)
        sleeper = int(g.run("sleep 1000 & echo $!")[0].split()[-1])
        g.run("sleep 1")
        check(keel("ctl", "--sock", sock, "snapshot", snap)[0] == 0, "ctl snapshot")
        g.send("poweroff -f\n")
        g.wait_exit(120)
    finally:
        g.kill()
        quit_clones(out)  # however the test went: no clone left behind
    hide = os.environ.get("VMI_HIDE", os.path.join(os.path.dirname(keel_path()), "tests",
                                                   "vmi_hide"))
    hidden = os.path.join(tmp, "hidden.keel")
    p = subprocess.run([hide, snap, str(sleeper), hidden], capture_output=True, text=True)
    check(p.returncode == 0, f"vmi_hide: {p.stderr}")
    out2 = os.path.join(tmp, "resp2.jsonl")
    g = Guest(["--restore", hidden, "--net", "none", "--ids", policy2, "--ids-out", out2])
    try:
        g.run("echo after restore")
        a = wait_alert(out2, "lie_detector", timeout=60)
        ev = a["evidence"]
        check(a["pid"] == sleeper and ev["comm"] == "sleep" and ev["pid_table"] and
              ev["what"].endswith("not in the task list"), f"lie detector: {a}")
        g.send("ip link set eth0 promisc on\n")
        status = g.wait_exit(60)
        check(status == 3 and "stopped by the intrusion detector" in g.stderr(),
              f"pause without a control socket: status {status}")
        a = wait_alert(out2, "raw_sockets", timeout=5)
        check(a["comm"] == "ip", f"promisc: {a}")
    finally:
        g.kill()


def wait_response(path, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path) as f:
            for line in f:
                j = json.loads(line)
                if j.get("response") == what and "policy" not in j:
                    return j
        time.sleep(0.5)
    raise AssertionError(f"no {what} response carried out")


def test():
    with tempfile.TemporaryDirectory() as tmp:
        bad_policies(tmp)
        responses(tmp)
        policy = os.path.join(tmp, "policy.json")
        with open(policy, "w") as f:
            json.dump(POLICY, f)
        out, log = os.path.join(tmp, "alerts.jsonl"), os.path.join(tmp, "log")
        fwd = free_port()
        disk = f"{guest_files()['rootfs']},overlay={os.path.join(tmp, 'disk.kov')}"
        args = boot_args(net=f"user,hostfwd=tcp:127.0.0.1:{fwd}-:80", append=APPEND, disk=disk)
        args = [a for a in args if a not in ("--idle-sleep", "off")]  # guest time keeps pace
        g = Guest([], command=[keel_path(), "record", "--log", log, "--ids", policy,
                               "--ids-out", out] + args, timeout=600)
        try:
            g.wait_ready()
            benign(g, out, fwd)
            attacks(g, out)
            g.send("poweroff -f\n")
            check(g.wait_exit(180) == 0, f"record exit: {g.stderr()}")
        finally:
            g.kill()
        recorded = alerts(out)
        print(f"{len(recorded)} alerts: " + ", ".join(
            f"{a['policy']}@{a['icount']}" + (f" ({(a['guest_ns'] - a['evidence']['burst_start_ns']) / 1e9:.2f} "
                                             "guest s after the burst began)"
                                             if "burst_start_ns" in a["evidence"] else "")
            for a in recorded))
        for i in range(3):
            rep = os.path.join(tmp, f"replayed{i}.jsonl")
            p = subprocess.run([keel_path(), "replay", log, "--quiet", "--ids", policy,
                                "--ids-out", rep], capture_output=True, text=True, timeout=1800)
            check(p.returncode == 0, f"replay {i}: rc={p.returncode} {p.stderr}")
            check(same_alerts(recorded, alerts(rep)),
                  f"replay {i}'s alerts differ:\n{recorded}\n{alerts(rep)}")
        # the machine at an alert, from the recording
        a = [a for a in recorded if a["policy"] == "cpu_no_person"][0]
        rc, ps, err = keel("replay", log, "--until", str(a["icount"]), "--quiet", "--inspect",
                           "ps", "--json", timeout=1800)
        check(rc == 0 and a["pid"] in [r["pid"] for r in json.loads(ps)["rows"]],
              f"replay --until {a['icount']} --inspect ps: rc={rc} {err}")


if __name__ == "__main__":
    main(test)
