#!/usr/bin/env python3
"""Live migration (docs/migrate.md): `keel ctl migrate` on a running VM,
`keel run --incoming` on the destination, both keels on 127.0.0.1.

1. the digest oracles: a deterministic guest migrated while Linux starts
   init (the link throttled, so pre-copy spans many slices) and run on
   the destination to N has the digest of an unmigrated run to N, the
   destination's overlay checks clean and the source exits 0 once the VM
   runs elsewhere; a guest writing its overlay disk all the time,
   migrated with --keep while another service consumes the dirty-page
   tap (so pages are found by comparison): the kept copy and the
   migrated VM reach equal digests;
2. the migrated VM is alive: its console answers on the destination, it
   can be snapshotted (and the snapshot restored), cloned and migrated
   on again;
3. refused, with the source running on and the destination waiting for
   another source: a wrong key, a flipped byte in the stream (through a
   relay), a replay of a recorded stream, a machine of another shape, a
   raw disk written in place;
4. the link cut mid-pre-copy (the destination killed): the source runs on
   and can still migrate elsewhere;
5. the network: the destination's own slirp forwards reach the moved
   guest, which reaches the host through it."""
import http.server
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading

import test_net
from guestlib import boot_args, check, free_port, guest_files, keel_path, main
from migratelib import (APPEND, FIXED, Keel, destination, keygen, migrate, pair, running_on,
                        source)
from test_api import Client
from test_clone import digest_line, wait_for_socket

N = 600_000_000


def test_oracle_keep(tmp, key):
    """A guest that writes its disk all the time, migrated with --keep:
    the source's paused copy, resumed, and the destination reach equal
    digests at N, and overlay records moved while the guest ran."""
    base = guest_files()["rootfs"]
    port = free_port()
    n = 1_200_000_000
    # --track-dirty: another consumer of taps' dirty pages, so the
    # migration finds written pages by comparing with what it sent.
    with pair(tmp, "k", key, ["--disk", f"{base},overlay={tmp}/k-dst.kov", "--max-insns", str(n),
                              "--digest"], f"{base},overlay={tmp}/k-src.kov",
              ["--max-insns", str(n), "--digest", "--track-dirty", "20"]) as p:
        src, dst, api = p.src, p.dst, p.api
        src.wait_ready()
        src.send("i=0; while :; do echo $i >> /mig.log; sync; i=$((i+1)); done &\n")
        out, _ = src.run("sleep 1; wc -l < /mig.log")
        lines = out.strip().splitlines()
        check(lines and lines[-1].isdigit() and int(lines[-1]) > 0,
              f"the writer does not write: {out!r}")
        rc, reply, err = migrate(p.sock, p.port, key, "--keep", "--throttle", "20")
        check(rc == 0 and reply and reply["ok"], f"migrate: {rc} {reply} {err}")
        fig = reply["migrated"]
        check(fig["icount"] < n and fig["disk_bytes"] > 0 and not fig["dirty_tracking"],
              f"figures: {fig}")
        r = api.call({"cmd": "status"})
        check(r["state"] == "paused" and r["icount"] == fig["icount"], f"kept copy: {r}")
        check(api.call({"cmd": "resume"})["ok"], "resume the kept copy")
        check(src.wait_exit(900) == 124 and dst.wait_exit(900) == 124, "N not reached")
        kept, moved = digest_line(src.stderr()), digest_line(dst.stderr())
        check(kept == moved, f"at N: kept copy {kept}, migrated {moved}")
        print(f"kept copy and migrated VM equal at {n}; {fig['disk_bytes']} bytes of "
              f"overlay moved in {fig['rounds']} rounds while the guest wrote")


def test_oracle(tmp, key):
    base = guest_files()["rootfs"]
    with pair(tmp, "o", key, ["--disk", f"{base},overlay={tmp}/o-dst.kov", "--max-insns", str(N),
                              "--digest"], f"{base},overlay={tmp}/o-src.kov") as p:
        src, dst = p.src, p.dst
        # While Linux starts init, which mounts the overlay disk: one
        # 4 MiB batch per 100 ms (the guest runs on between batches).
        src.expect(r"Run /init")
        rc, reply, err = migrate(p.sock, p.port, key, "--throttle", "100", "--downtime", "5")
        check(rc == 0 and reply and reply["ok"], f"migrate: {rc} {reply} {err}")
        fig = reply["migrated"]
        check(fig["icount"] < N and fig["rounds"] >= 2 and fig["pages_sent"] > 1000 and
              fig["dirty_tracking"], f"figures: {fig}")
        check(src.wait_exit(60) == 0, f"the source did not quit: {src.stderr()}")
        check(dst.wait_exit(900) == 124, f"destination: {dst.stderr()}")
        got = digest_line(dst.stderr())
        ref = p.also(Keel(boot_args(disk=f"{base},overlay={tmp}/o-ref.kov", append=APPEND,
                                    extra=FIXED + ["--max-insns", str(N), "--digest"])))
        check(ref.wait_exit(900) == 124, "the reference run did not reach N")
        want = digest_line(ref.stderr())
        check(got == want, f"migrated at {fig['icount']}: {got} vs unmigrated {want}")
        p = subprocess.run([keel_path(), "disk", "check", f"{tmp}/o-dst.kov"],
                           capture_output=True, text=True)
        check(p.returncode == 0, f"disk check: {p.stdout}{p.stderr}")
        print(f"oracle: migrated at icount {fig['icount']} after {fig['rounds']} rounds, "
              f"{fig['pages_sent']} pages, {fig['disk_bytes']} bytes of overlay; "
              f"digest at {N} equal")


class Relay:
    """127.0.0.1:port -> 127.0.0.1:to, both ways; flips byte `flip` of
    the source's stream, and records it."""

    def __init__(self, to, flip=None):
        self.to, self.flip, self.recorded = to, flip, b""
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        a, _ = self.listener.accept()
        b = socket.create_connection(("127.0.0.1", self.to))
        done = 0
        socks = [a, b]
        while socks:
            ready, _, _ = select.select(socks, [], [], 60)
            if not ready:
                break
            for s in ready:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                other = b if s is a else a
                if not data:
                    socks = []
                    break
                if s is a:
                    if self.flip is not None and done <= self.flip < done + len(data):
                        i = self.flip - done
                        data = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
                    self.recorded += data
                    done += len(data)
                try:
                    other.sendall(data)
                except OSError:
                    socks = []
                    break
        a.close()
        b.close()


def replay(port, stream):
    """Play a recorded source stream to a destination, reading what it
    answers, until it hangs up."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        try:  # the destination hangs up as soon as it sees the replay
            s.sendall(stream)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(60)
            while s.recv(65536):
                pass
        except OSError:
            pass


def test_refusals_and_life(tmp, key):
    other_key = keygen(tmp, "other.key")
    port = free_port()
    dst = destination(tmp, "r-dst", key, port)
    src, api, sock = source(tmp, "r-src")
    raw = os.path.join(tmp, "raw.img")
    with open(raw, "wb") as f:
        f.truncate(1 << 20)
    rawsrc, rawapi, rawsock = source(tmp, "r-raw", raw)
    dst2 = snap_vm = clone_pid = rdst = None
    try:
        src.wait_ready()
        # A raw disk written in place cannot move.
        rc, reply, err = migrate(rawsock, port, key)
        check(rc == 1 and "raw disk written in place" in err, f"raw disk: {rc} {err}")
        rawsrc.kill()
        # A wrong key: both sides say so; the source runs on.
        rc, reply, err = migrate(sock, port, other_key)
        check(rc == 1 and "does not hold this key" in err, f"wrong key: {rc} {err}")
        running_on(api)
        dst.expect_err(r"refused: authentication failed")
        # Another machine shape: refused before a page moves.
        small_port = free_port()
        small = destination(tmp, "r-small", key, small_port, ["-m", "128M"])
        rc, reply, err = migrate(sock, small_port, key)
        small.kill()
        check(rc == 1 and "-m must match" in err, f"RAM size: {rc} {err}")
        running_on(api)
        # A byte flipped in a page batch, well after the handshake.
        relay = Relay(port, flip=200_000)
        rc, reply, err = migrate(sock, relay.port, key)
        check(rc == 1, f"flipped byte: {rc} {reply} {err}")
        running_on(api)
        dst.expect_err(r"refused: chunk \d+ failed authentication")
        # Through a recording relay, for real this time.
        relay = Relay(port)
        rc, reply, err = migrate(sock, relay.port, key, "--downtime", "20")
        check(rc == 0 and reply["ok"], f"migrate: {rc} {reply} {err}")
        check(src.wait_exit(60) == 0, "the source did not quit")
        relay.thread.join(30)
        dapi = wait_for_socket(os.path.join(tmp, "r-dst.sock"), dst.proc)
        out, status = dst.run("echo migrated-$((6*7))")
        check("migrated-42" in out and status == 0, f"console on the destination: {out!r}")
        # The recorded stream, replayed to a fresh destination: refused.
        rport = free_port()
        rdst = destination(tmp, "r-replay", key, rport)
        replay(rport, relay.recorded)
        rdst.expect_err(r"refused: authentication failed")
        # Snapshot (and restore), clone, migrate on.
        snap = os.path.join(tmp, "migrated.snap")
        r = dapi.call({"cmd": "snapshot", "path": snap})
        check(r["ok"], f"snapshot: {r}")
        snap_vm = Keel(["--restore", snap, "--idle-sleep", "off", "-m", "256M"])
        out, status = snap_vm.run("echo restored-ok")
        check("restored-ok" in out, f"restored snapshot: {out!r}")
        r = dapi.call({"cmd": "clone", "sock": os.path.join(tmp, "r-clone.sock"),
                       "entropy": "inherit"})
        check(r["ok"], f"clone: {r}")
        clone_pid = r["pid"]
        check(Client(r["sock"]).call({"cmd": "status"})["ok"], "clone status")
        port2 = free_port()
        dst2 = destination(tmp, "r-dst2", key, port2)
        rc, reply, err = migrate(os.path.join(tmp, "r-dst.sock"), port2, key)
        check(rc == 0 and reply["ok"], f"migrate on: {rc} {reply} {err}")
        out, status = dst2.run("echo twice-moved")
        check("twice-moved" in out, f"second destination: {out!r}")
        print("refusals: raw disk, wrong key, RAM size, flipped byte, replay; migrated VM "
              "answers, snapshots, clones and migrates on")
    finally:
        if clone_pid:
            try:
                os.kill(clone_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for k in (src, dst, rawsrc, dst2, snap_vm, rdst):
            if k:
                k.kill()


def test_link_cut(tmp, key):
    with pair(tmp, "c", key) as p:
        src, dst, api, sock, port = p.src, p.dst, p.api, p.sock, p.port
        src.wait_ready()
        # A slow link: one batch per 500 ms, so round 1 takes seconds.
        # Kill the destination at the first progress line: mid-round 1.
        proc = subprocess.Popen([keel_path(), "ctl", "--sock", sock, "migrate",
                                 f"tcp:127.0.0.1:{port}", "--key", key, "--throttle", "500"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = proc.stderr.readline()
        check(first.startswith("round 0:"), f"no progress line: {first!r}")
        dst.proc.kill()
        out, err = proc.communicate(timeout=120)
        err = first + err
        check(proc.returncode == 1 and "link" in err, f"cut link: {proc.returncode} {err}")
        running_on(api)
        out, status = src.run("echo still-here")
        check("still-here" in out, f"source console after the cut: {out!r}")
        port2 = free_port()
        dst2 = p.also(destination(tmp, "c-dst2", key, port2))
        # A stranger connects first and says nothing: the destination
        # gives it a few seconds, then takes the real source.
        stranger = socket.create_connection(("127.0.0.1", port2))
        rc, reply, err = migrate(sock, port2, key)
        stranger.close()
        check(rc == 0 and reply["ok"], f"migrate after the cut: {rc} {reply} {err}")
        dst2.expect_err(r"refused: the link to the peer failed: timed out")
        print("link cut: the source ran on and then migrated elsewhere, past a silent "
              "stranger")


def test_network(tmp, key):
    """The destination's own slirp and forwards serve the moved guest, in
    and out; the source's forward is gone with the source."""
    server = http.server.HTTPServer(("127.0.0.1", 0), test_net.Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host_port = server.server_address[1]
    port, p1, p2 = free_port(), free_port(), free_port()
    dst = destination(tmp, "n-dst", key, port, ["--net", f"user,hostfwd=tcp:127.0.0.1:{p2}-:80"])
    sock = os.path.join(tmp, "n-src.sock")
    src = Keel(boot_args(net=f"user,hostfwd=tcp:127.0.0.1:{p1}-:80",
                         extra=FIXED + ["--api-sock", sock]))
    try:
        wait_for_socket(sock, src.proc)
        src.wait_ready()
        check("keel" in test_net.fetch(f"http://127.0.0.1:{p1}/"), "the source's forward")
        rc, reply, err = migrate(sock, port, key)
        check(rc == 0 and reply["ok"], f"migrate: {rc} {reply} {err}")
        check(src.wait_exit(60) == 0, "the source did not quit")
        check("keel" in test_net.fetch(f"http://127.0.0.1:{p2}/"), "the destination's forward")
        out, rc = dst.run(f"wget -q -O - http://10.0.2.2:{host_port}/page")
        check(rc == 0 and test_net.PAGE.decode().strip() in out, f"outbound: {rc} {out!r}")
        try:
            socket.create_connection(("127.0.0.1", p1), timeout=5).close()
            check(False, "the source's forward still accepts")
        except OSError:
            pass
        print("network: the moved guest serves on the destination's forward and reaches out")
    finally:
        src.kill()
        dst.kill()
        server.shutdown()


def test_base_moves(tmp, key):
    """A destination without the overlay's base gets it from the source,
    verified by its hash; one with another file there refuses."""
    base = os.path.join(tmp, "b-base.ext4")
    shutil.copyfile(guest_files()["rootfs"], base)
    os.makedirs(os.path.join(tmp, "far"))
    far = os.path.join(tmp, "far", "base.ext4")
    other = os.path.join(tmp, "far", "other.ext4")
    shutil.copyfile(base, other)
    with open(other, "r+b") as f:  # same size, one byte else
        f.seek(4096 * 100)
        b = f.read(1)
        f.seek(4096 * 100)
        f.write(bytes([b[0] ^ 0xff]))
    port, port2 = free_port(), free_port()
    bad = destination(tmp, "b-bad", key, port2, ["--disk", f"{other},overlay={tmp}/b-bad.kov"])
    dst = destination(tmp, "b-dst", key, port, ["--disk", f"{far},overlay={tmp}/b-dst.kov"])
    src, api, sock = source(tmp, "b-src", f"{base},overlay={tmp}/b-src.kov")
    try:
        src.wait_ready()
        rc, reply, err = migrate(sock, port2, key)
        check(rc == 1 and "is not the VM's" in reply["error"], f"another base: {rc} {reply}")
        running_on(api)
        src.run("echo written > /moved.txt; sync")
        rc, reply, err = migrate(sock, port, key, "--throttle", "10")
        check(rc == 0 and reply["ok"], f"migrate with the base: {rc} {reply} {err}")
        size = os.path.getsize(base)
        check(reply["migrated"].get("base_bytes") == size, f"figures: {reply['migrated']}")
        check(open(far, "rb").read() == open(base, "rb").read(), "the base arrived changed")
        check(not [f for f in os.listdir(os.path.dirname(far)) if ".part-" in f],
              "a partial base was left behind")
        dst.expect_err(r"arrived and hashes to the VM's base")
        out, status = dst.run("cat /moved.txt")
        check("written" in out, f"the moved VM's disk: {out!r}")
        print(f"base image: {size} bytes moved to a destination that lacked it, verified; "
              "another base at the path refused")
    finally:
        for k in (src, dst, bad):
            k.kill()


def test():
    with tempfile.TemporaryDirectory() as tmp:
        key = keygen(tmp, "k.key")
        test_base_moves(tmp, key)
        test_network(tmp, key)
        test_refusals_and_life(tmp, key)
        test_link_cut(tmp, key)
        test_oracle(tmp, key)
        test_oracle_keep(tmp, key)


if __name__ == "__main__":
    main(test)
