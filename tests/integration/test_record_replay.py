#!/usr/bin/env python3
"""Record a whole session with `keel record` and replay it with `keel
replay` (docs/replay.md): boot, shell commands typed on the console,
entropy read by the guest and written to the disk (an overlay), HTTP requests from the host to the guest's
httpd through a hostfwd port, a guest wget from a host server, a
reboot, and poweroff.  The replay is run REPLAYS times (default
20), the first of them with `--no-decode-cache` (the plainest interpreter,
against a recording made with decoded blocks); each must print exactly the
console output of the recording and match every checkpoint digest.  Then the real log is tampered with in a few ways
(the full list is covered record by record in tests/unit/test_log.c) and
replay must refuse each."""
import concurrent.futures
import hashlib
import http.server
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading

from guestlib import Guest, boot_args, check, free_port, guest_files, keel_path, main
from test_net import PAGE, Handler, fetch

REPLAYS = int(os.environ.get("KEEL_REPLAYS", "20"))
APPEND = "console=ttyS0"


def keel(*args, timeout=300):
    p = subprocess.run([keel_path(), *args], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def record_session(tmp, log, keys):
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host_port = server.server_address[1]
    fwd = free_port()
    args = boot_args(net=f"user,hostfwd=tcp:127.0.0.1:{fwd}-:80", append=APPEND,
                     disk=disk_arg(tmp))
    g = Guest([], command=[keel_path(), "record", "--log", log, "--seal-key", keys["seal"],
                           "--checkpoint-every", "20000000", "--seal-interval", "1",
                           "--events-out", os.path.join(tmp, "events.jsonl")] + args)
    try:
        g.wait_ready()
        out, rc = g.run("echo typed-$((6*7)); ls /")
        check("typed-42" in out, f"shell: {out!r}")
        out, rc = g.run("head -c 16 /dev/hwrng | od -An -tx1")
        check(rc == 0 and len(out.split()) == 16, f"hwrng: {out!r}")
        out, rc = g.run(f"wget -q -O - http://10.0.2.2:{host_port}/page")
        check(rc == 0 and PAGE.decode().strip() in out, f"outbound wget: rc={rc} {out!r}")
        for _ in range(3):
            check("keel" in fetch(f"http://127.0.0.1:{fwd}/"), "inbound fetch")
        out, rc = g.run("cat /etc/keel-root; dd if=/dev/hwrng of=/root/recorded bs=4k "
                        "count=64 2>/dev/null; sync; md5sum /root/recorded")
        check(rc == 0 and "disk" in out, f"disk writes: {out!r}")
        start = len(g.text())
        g.send("reboot -f\n")
        g.expect("keel-guest: ready", 300, start)
        out, rc = g.run("echo after-reboot")
        check("after-reboot" in out, f"after reboot: {out!r}")
        g.send("poweroff -f\n")
        check(g.wait_exit(120) == 0, f"record exit: {g.stderr()}")
        return g.output
    finally:
        g.kill()
        server.shutdown()


def disk_arg(tmp):
    """The root disk: the guest's ext4 image under a fresh overlay, which
    the first checkpoint freezes and replay reads."""
    return f"{guest_files()['rootfs']},overlay={os.path.join(tmp, 'disk.kov')}"


def check_replays(log, key, recorded):
    """REPLAYS replays, two at a time (CI has two cores); the first without
    decoded blocks, the second observed by a memory-effect subscriber
    (--effects-count), which must not change a thing."""
    options = {0: ["--no-decode-cache"], 1: ["--effects-count"]}
    def replay(i):
        return keel("replay", log, "--key", key, *options.get(i, []), timeout=900)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(replay, range(max(REPLAYS, 2))))
    for i, (rc, out, err) in enumerate(results):
        check(rc == 0, f"replay {i}: exit {rc}: {err[-2000:]}")
        check("checkpoints matched" in err and "(state digest v4)" in err,
              f"replay {i}: {err[-500:]}")
        check(out == recorded, f"replay {i}: console output differs "
              f"({len(out)} bytes, recorded {len(recorded)})")
    done = [re.search(r"done: .* (\d+) checkpoints matched, icount (\d+)", r[2]) for r in results]
    check(all(d and d.groups() == done[0].groups() for d in done),
          f"replays differ: {[d and d.group(0) for d in done]}")
    check_effects(log, key, results[1][2], int(done[0].group(2)))
    print(f"{len(results)} replays identical, the first without decoded blocks: "
          f"{results[0][2].strip().splitlines()[-1]}; last: {err.strip().splitlines()[-1]}")


def check_effects(log, key, err, end_icount):
    """The observed replay's counts: one report per instruction that retired
    or trapped, from the first checkpoint to the end, and every kind of
    effect a Linux session has."""
    line = [l for l in err.splitlines() if l.startswith('{"effects"')]
    check(len(line) == 1, f"--effects-count printed no JSON line: {err[-800:]}")
    e = json.loads(line[0])["effects"]
    rc, out, err = keel("log", "show", log, "--key", key, "--json", "--limit", "8")
    check(rc == 0 and out.startswith(b"{"), f"log show --json: exit {rc}: {out[:300]} {err[-500:]}")
    start = next(r["icount"] for r in json.loads(out)["records"]
                 if r["type_name"] == "snapshot")
    check(e["instructions"] - e["trapped"] == end_icount - start,
          f"effects: {e['instructions']} reports, {e['trapped']} trapped, "
          f"but {end_icount - start} instructions retired")
    for k in ("trapped", "reads", "writes", "x_read", "x_written", "f_read", "f_written",
              "csr_read", "csr_written"):
        check(e[k] > 0, f"effects: no {k}: {e}")
    check(e["bytes_read"] >= e["reads"] and e["bytes_written"] >= e["writes"],
          f"effects: sizes {e}")
    print(f"memory effects of {e['instructions']} instructions: {e['reads']} reads, "
          f"{e['writes']} writes, {e['trapped']} trapped")


EVENT_KINDS = ("console", "net", "entropy", "time-adjust", "idle-skip")


def check_two_subscribers(tmp, log, key):
    """The recorder and the --events-out service are two subscribers of the
    same event boundary (docs/taps.md): each must have seen every event,
    in the same order, at the same icounts, with the same lengths."""
    rc, out, err = keel("log", "show", log, "--json", "--key", key)
    check(rc == 0, f"log show: exit {rc}: {err[-500:]}")
    names = {r["type_name"] for r in json.loads(out)["records"]}
    logged = [(r["icount"], r["type_name"], r["len"]) for r in json.loads(out)["records"]
              if r["type_name"] in EVENT_KINDS]
    with open(os.path.join(tmp, "events.jsonl")) as f:
        seen = [json.loads(line) for line in f]
    observed = [(e["icount"], e["kind"], e["len"]) for e in seen if e["kind"] != "rtc-epoch"]
    check(len(logged) > 100, f"too few events in the log: {len(logged)} ({sorted(names)})")
    check(observed == logged, f"the second subscriber saw {len(observed)} events, the log "
          f"holds {len(logged)}; first difference at "
          f"{next((i for i, (a, b) in enumerate(zip(observed, logged)) if a != b), None)}")
    print(f"two subscribers: both saw the same {len(logged)} events")


def check_split_replay(tmp, log, key, recorded):
    """The snapshot oracle with network packets in flight: replay to just
    after a frame was handed to the guest (still in virtio-net's receive
    ring), save a snapshot there, and replay the rest of the log from it in
    a new process: every later checkpoint digest must still match, and the
    two halves of the console output make up the recorded one."""
    rc, out, err = keel("log", "show", log, "--json", "--key", key)
    frames = [r["icount"] for r in json.loads(out)["records"] if r["type_name"] == "net"]
    check(len(frames) > 10, f"too few frames in the log: {len(frames)}")
    m = frames[len(frames) // 2] + 50
    snap = os.path.join(tmp, "mid.snap")
    rc, first, err = keel("replay", log, "--key", key, "--until", str(m), "--snapshot", snap)
    check(rc == 0, f"replay --until {m}: exit {rc}: {err[-1000:]}")
    rc, second, err = keel("replay", log, "--key", key, "--from", snap)
    check(rc == 0 and "checkpoints matched" in err, f"replay --from: exit {rc}: {err[-1000:]}")
    matched = int(re.search(r"(\d+) checkpoints matched", err).group(1))
    check(matched > 0, f"no checkpoint after {m}: {err}")
    check(first + second == recorded, "the split replay's console output differs")
    print(f"split at icount {m} (a frame in flight): {matched} later checkpoints matched")


def check_first_checkpoint(log):
    """The first checkpoint of a fresh boot is taken before the guest runs,
    while RAM is the boot image: its RAM section is version 2, the BOOT
    image's BLAKE2b-256, not a second copy (docs/snapshot-format.md)."""
    with open(os.path.join(log, "checkpoint-0.snap"), "rb") as f:
        data = f.read()
    off, sections = 16, {}
    while off + 20 <= len(data):
        tag = data[off:off + 4].decode()
        version, _, n = struct.unpack_from("<IIQ", data, off + 4)
        sections[tag] = (version, data[off + 20:off + 20 + n])
        off += 20 + n
    version, ram = sections["RAM "]
    boot = sections["BOOT"][1]
    image = boot[8:8 + struct.unpack_from("<Q", boot)[0]]
    check(version == 2 and ram == hashlib.blake2b(image, digest_size=32).digest(),
          f"first checkpoint: RAM section version {version}, {len(ram)} bytes, not the "
          "boot image's hash")
    check(len(data) < len(image) + 65536,
          f"first checkpoint of {len(data)} bytes for a boot image of {len(image)}")
    print(f"first checkpoint: {len(data)} bytes, RAM by the boot image's hash")


def check_tampering(tmp, log, key):
    """A few edits of the real log: replay must refuse every one."""
    seg = os.path.join(log, "seg-000000.klog")
    size = os.path.getsize(seg)

    def tampered(name, edit):
        copy = os.path.join(tmp, "tampered-" + name)
        shutil.copytree(log, copy)
        edit(copy)
        rc, out, err = keel("replay", copy, "--key", key)
        # A cut that leaves a torn entry reads as an unsealed tail: never
        # trusted, so replay stops at the last seal before it.
        check(rc != 0 and ("TAMPERED" in err or "UNSEALED" in err),
              f"{name}: replay exit {rc}: {err[-600:]}")
        shutil.rmtree(copy)

    def flip_middle(d):
        with open(os.path.join(d, "seg-000000.klog"), "r+b") as f:
            f.seek(size // 2)
            b = f.read(1)
            f.seek(size // 2)
            f.write(bytes([b[0] ^ 0x40]))

    def swap_checkpoint(d):
        path = os.path.join(d, "checkpoint-0.snap")
        with open(path, "r+b") as f:
            f.seek(os.path.getsize(path) - 100)
            b = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([b[0] ^ 1]))

    def drop_middle_block(d):
        # truncate-and-continue: the tail after a cut cannot be re-sealed
        path = os.path.join(d, "seg-000000.klog")
        data = open(path, "rb").read()
        open(path, "wb").write(data[:size // 3] + data[size // 2:])

    tampered("edited", flip_middle)
    tampered("checkpoint", swap_checkpoint)
    tampered("cut", drop_middle_block)


def test():
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log")
        keys = {"seal": os.path.join(tmp, "seal.key"), "verify": os.path.join(tmp, "verify.key")}
        rc, out, err = keel("log", "keygen", "--seal-key", keys["seal"], "--verify-key",
                            keys["verify"])
        check(rc == 0, f"keygen: {err}")
        recorded = record_session(tmp, log, keys)
        rc, out, err = keel("log", "verify", log, "--key", keys["verify"])
        check(rc == 0, f"verify: exit {rc}: {out} {err}")
        rc, out, err = keel("log", "show", log, "--key", keys["verify"])
        for kind in ("console", "net", "entropy", "digest"):
            check(f"  {kind} " in out.decode(), f"log show lists no {kind} records")
        check_first_checkpoint(log)
        check_two_subscribers(tmp, log, keys["verify"])
        check_replays(log, keys["verify"], recorded)
        check_split_replay(tmp, log, keys["verify"], recorded)
        check_tampering(tmp, log, keys["verify"])


if __name__ == "__main__":
    main(test)
