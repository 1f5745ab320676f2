#!/usr/bin/env python3
"""The control socket (docs/api.md): boot the default guest with
--api-sock, drive it with status/pause/resume/snapshot, check that every
malformed request gets a JSON error and leaves the server answering, check
`keel ctl`'s output and exit codes, then quit (keel exits 0)."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

from guestlib import Guest, boot_args, check, keel_path, main

APPEND = "console=ttyS0 keel.net=off"


class Client:
    def __init__(self, path, timeout=60):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_line(self):
        """The next reply line, or None when the server closed."""
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""  # closed with our request unread: still closed
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def reply(self):
        line = self.read_line()
        check(line is not None, "the server closed the connection instead of replying")
        try:
            r = json.loads(line)
        except ValueError:
            check(False, f"reply is not JSON: {line!r}")
        check(isinstance(r, dict) and isinstance(r.get("ok"), bool), f"bad reply shape: {r!r}")
        return r

    def call(self, req):
        self.send_raw(json.dumps(req).encode() + b"\n")
        return self.reply()

    def close(self):
        self.sock.close()


def ctl(sock, *args):
    p = subprocess.run([keel_path(), "ctl", "--sock", sock] + list(args), capture_output=True,
                       text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def expect_error(c, req_bytes, needle, what):
    c.send_raw(req_bytes)
    r = c.reply()
    check(r["ok"] is False and needle in r.get("error", ""), f"{what}: {r!r}")
    return r


def check_status(c, what):
    r = c.call({"id": what, "cmd": "status"})
    check(r["ok"] is True and r["id"] == what, f"status after {what}: {r!r}")
    check(r["state"] in ("running", "paused"), f"state: {r!r}")
    check(isinstance(r["icount"], int) and r["icount"] > 0, f"icount: {r!r}")
    check(isinstance(r["mtime"], int) and r["mtime"] > 0, f"mtime: {r!r}")
    check(re.fullmatch(r"[0-9a-f]{64}", r["digest"]) is not None, f"digest: {r!r}")
    return r


def test_pause_resume(g, c):
    r = c.call({"id": 1, "cmd": "pause"})
    check(r == {"id": 1, "ok": True}, f"pause: {r!r}")
    a = check_status(c, "paused-1")
    time.sleep(0.5)
    b = check_status(c, "paused-2")
    check(a["state"] == b["state"] == "paused", f"not paused: {a!r} {b!r}")
    check(a["icount"] == b["icount"] and a["mtime"] == b["mtime"] and a["digest"] == b["digest"],
          f"the machine moved while paused: {a!r} {b!r}")
    # Typed input waits; it must not run the guest while paused.
    g.send("echo typed-while-paused\n")
    time.sleep(0.3)
    check(check_status(c, "paused-3")["icount"] == a["icount"], "typing ran the paused guest")
    r = c.call({"cmd": "resume"})
    check(r == {"id": None, "ok": True}, f"resume: {r!r}")
    g.expect("typed-while-paused\r?\n")
    out, rc = g.run("echo after-$((1+2))")
    check(rc == 0 and "after-3" in out, f"console after resume: {out!r}")
    r = check_status(c, "resumed")
    check(r["state"] == "running" and r["icount"] > a["icount"], f"did not resume: {r!r} {a!r}")


def test_snapshot(c, tmp):
    path = os.path.join(tmp, "snap.keel")
    c.call({"cmd": "pause"})
    r = c.call({"id": "s", "cmd": "snapshot", "path": path})
    check(r["ok"] is True and r["path"] == path, f"snapshot: {r!r}")
    with open(path, "rb") as f:
        check(f.read(8) == b"KEELSNAP", "the snapshot lacks the KEELSNAP magic")
    check(os.path.getsize(path) > 4096, "the snapshot is implausibly small")
    check(not os.path.exists(path + ".tmp"), "PATH.tmp was left behind")
    r = c.call({"cmd": "snapshot", "path": os.path.join(tmp, "no/such/dir/x")})
    check(r["ok"] is False and "no/such/dir" in r["error"], f"bad snapshot dir: {r!r}")
    c.call({"cmd": "resume"})


def test_malformed(sock, c):
    cases = [
        (b"{not json\n", "invalid JSON", "invalid JSON"),
        (b"[1,2]\n", "JSON object", "array"),
        (b"42\n", "JSON object", "number"),
        (b'{"id":7}\n', "missing \"cmd\"", "missing cmd"),
        (b'{"cmd":"reboot"}\n', "unknown cmd", "unknown cmd"),
        (b'{"cmd":5}\n', "must be a string", "cmd not a string"),
        (b'{"cmd":"snapshot","path":3}\n', "\"path\" must be a string", "path not a string"),
        (b'{"cmd":"snapshot"}\n', "needs \"path\"", "path missing"),
        (b'{"cmd":"status","bogus":1}\n', "unknown argument", "unknown argument"),
        (b'{"cmd":"status","cmd":"quit"}\n', "invalid JSON", "duplicate key"),
        (b'{"cmd":"status"} trailing\n', "invalid JSON", "trailing garbage"),
        (b'"\xff\xfe"\n', "invalid JSON", "invalid UTF-8"),
    ]
    for data, needle, what in cases:
        r = expect_error(c, data, needle, what)
        check(r["id"] is None or what == "missing cmd", f"{what}: id {r!r}")
        check_status(c, what)
    r = expect_error(c, b'{"id":[1,"x"],"cmd":"nope"}\n', "unknown cmd", "id echo")
    check(r["id"] == [1, "x"], f"id not echoed: {r!r}")
    # Two requests in one write, an empty line between: two replies, in order.
    c.send_raw(b'{"id":"a","cmd":"status"}\n\n{"id":"b","cmd":"status"}\n')
    check([c.reply()["id"], c.reply()["id"]] == ["a", "b"], "pipelined replies out of order")
    # A request split across writes.
    c.send_raw(b'{"id":"sp","cm')
    time.sleep(0.2)
    c.send_raw(b'd":"status"}\n')
    check(c.reply()["id"] == "sp", "split request")

    # Oversized: an error, then the connection closes; the server lives on.
    big = Client(sock)
    try:
        big.send_raw(b'{"cmd":"status","pad":"' + b"x" * (100 * 1024))
    except OSError:
        pass  # the server may close before taking it all
    r = big.reply()
    check(r["ok"] is False and "longer than" in r["error"], f"oversized: {r!r}")
    check(big.read_line() is None, "the connection stayed open after an oversized line")
    big.close()
    check_status(c, "oversized")

    # Disconnect in the middle of a request, and right after a complete one.
    for data in (b'{"cmd":"sta', b'{"cmd":"status"}\n'):
        d = Client(sock)
        d.send_raw(data)
        d.close()
        check_status(c, f"disconnect after {data!r}")

    # Several clients at once; beyond the limit (8) an error and close.
    extra = [Client(sock) for _ in range(7)]  # with c: 8
    for i, e in enumerate(extra):
        check(e.call({"id": i, "cmd": "status"})["id"] == i, f"client {i}")
    over = Client(sock)
    line = over.read_line()
    check(line is not None and b"too many clients" in line, f"9th client: {line!r}")
    check(over.read_line() is None, "the 9th client was not closed")
    over.close()
    for e in extra:
        e.close()
    time.sleep(0.2)
    late = Client(sock)
    check_status(late, "slots freed")
    late.close()


def test_ctl(sock, tmp):
    rc, out, err = ctl(sock, "status")
    r = json.loads(out)
    check(rc == 0 and r["ok"] is True and r["state"] == "running", f"ctl status: {rc} {out} {err}")
    rc, out, err = ctl(sock, "--compact", "raw", '{"id":9,"cmd":"nope"}')
    check(rc == 1 and out.count("\n") == 1 and json.loads(out)["id"] == 9,
          f"ctl raw error: {rc} {out!r} {err}")
    rc, out, err = ctl(sock, "raw", "not json")
    check(rc == 1 and "invalid JSON" in out, f"ctl raw invalid: {rc} {out!r}")
    rc, out, err = ctl(sock, "pause")
    check(rc == 0 and json.loads(out)["ok"] is True, f"ctl pause: {rc} {out}")
    rel = "ctl-snap.keel"
    p = subprocess.run([keel_path(), "ctl", "--sock", sock, "snapshot", rel], cwd=tmp,
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0 and os.path.exists(os.path.join(tmp, rel)),
          f"ctl snapshot (relative path): {p.returncode} {p.stdout} {p.stderr}")
    rc, out, err = ctl(sock, "resume")
    check(rc == 0, f"ctl resume: {rc} {out}")
    missing = os.path.join(tmp, "nobody.sock")
    rc, out, err = ctl(missing, "status")
    check(rc == 2 and missing in err, f"ctl to a missing socket: {rc} {err!r}")
    rc, out, err = ctl(sock, "frobnicate")
    check(rc == 2 and "unknown command" in err, f"ctl unknown command: {rc} {err!r}")
    p = subprocess.run([keel_path(), "ctl", "--help"], capture_output=True, text=True)
    check(p.returncode == 0 and "snapshot FILE" in p.stdout, "ctl --help")


def test_second_server_refused(sock):
    p = subprocess.run([keel_path(), "run", "--api-sock", sock] + boot_args(append=APPEND),
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    check(p.returncode != 0 and "another server" in p.stderr,
          f"a second keel on a live socket: {p.returncode} {p.stderr!r}")


def test():
    tmp = tempfile.mkdtemp(prefix="keel-api-")
    sock = os.path.join(tmp, "keel.sock")
    # A stale socket file (nothing listening) must be replaced.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(sock)
    stale.close()
    g = Guest(boot_args(append=APPEND, extra=["--api-sock", sock]))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                c = Client(sock)
                break
            except OSError:
                check(time.monotonic() < deadline and g.proc.poll() is None,
                      f"no control socket\n{g.stderr() if g.proc.poll() is not None else ''}")
                time.sleep(0.1)
        check_status(c, "boot")  # answers while the guest is still booting
        g.wait_ready()
        test_pause_resume(g, c)
        test_snapshot(c, tmp)
        test_malformed(sock, c)
        test_ctl(sock, tmp)
        test_second_server_refused(sock)
        check_status(c, "second server")
        r = c.call({"id": "bye", "cmd": "quit"})
        check(r == {"id": "bye", "ok": True}, f"quit: {r!r}")
        status = g.wait_exit(60)
        check(status == 0, f"keel exited {status} after quit\n{g.stderr()}")
        check(not os.path.exists(sock), "the socket file is still there after quit")
        c.close()
    finally:
        g.kill()
        shutil.rmtree(tmp, ignore_errors=True)  # the snapshots it saved


if __name__ == "__main__":
    main(test)
