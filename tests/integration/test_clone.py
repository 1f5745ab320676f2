#!/usr/bin/env python3
"""Fork-clones (docs/clone.md) through the control socket's "clone":

1. the determinism oracle: a VM paused at M and cloned with inherited
   entropy and no network, parent and clone (and a second clone, and a
   clone of that clone) resumed with no input, reach equal state digests
   at --max-insns N (and a clone given one key does not); so does a
   clone that starts with the parent's caches (--jit-clone-cache inherit);
2. parent and clone are independent: the parent answers its socket during
   and after the clone, each has its own console and tmpfs, quitting the
   clone leaves the parent running;
3. with fresh entropy the clone's /dev/hwrng bytes come from the host,
   not from the parent's seeded stream;
4. bad clone requests get JSON errors and leave no process behind; a
   raw disk written in place is refused, a read-only one is shared, an
   overlay is private to each VM after the clone; a clone holds
   none of its parent's descriptors and never touches its terminal;
5. a clone with its own slirp and hostfwd serves its guest's httpd on its
   own port while the parent's port still reaches the parent."""
import atexit
import json
import os
import re
import signal
import subprocess
import termios
import threading
import tempfile
import time

import test_net
from guestlib import Guest, GuestError, boot_args, check, free_port, guest_files, keel_path, main
from test_api import Client
from test_entropy import seeded_stream

APPEND = "console=ttyS0 keel.net=off"
N = 400_000_000
FIXED = ["--entropy-seed", "3", "--rtc-epoch", "1790000000", "-m", "256M"]
HWRNG = "head -c 64 /dev/hwrng | od -An -tx1 | tr -d ' \\n'"


def wait_for_socket(path, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return Client(path)
        except OSError:
            check(time.monotonic() < deadline and proc.poll() is None,
                  f"no control socket at {path}")
            time.sleep(0.1)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is not alive.  A
    # process reaped between the open and the read makes the read fail
    # with ESRCH (ProcessLookupError): gone as well.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_gone(pid, timeout=60):
    deadline = time.monotonic() + timeout
    while alive(pid):
        check(time.monotonic() < deadline, f"process {pid} is still running")
        time.sleep(0.1)


# Clones outlive their parents by design, so a test that fails half-way
# would leave them running (spinning, with --idle-sleep off): kill every
# clone this process saw when it exits.
CLONE_PIDS = []


def kill_clones():
    for pid in CLONE_PIDS:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


atexit.register(kill_clones)


class Clone:
    """A clone driven through its own socket ("input") and console file."""

    def __init__(self, reply, console):
        if isinstance(reply.get("pid"), int):
            CLONE_PIDS.append(reply["pid"])
        check(reply["ok"] is True, f"clone: {reply!r}")
        check(isinstance(reply["pid"], int) and alive(reply["pid"]), f"clone pid: {reply!r}")
        self.pid, self.sock, self.console = reply["pid"], reply["sock"], console
        self.api = Client(self.sock)

    def text(self):
        with open(self.console, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def expect(self, pattern, timeout=120, start=0):
        deadline = time.monotonic() + timeout
        while True:
            m = re.compile(pattern).search(self.text(), start)
            if m:
                return m
            if time.monotonic() > deadline or not alive(self.pid):
                raise GuestError(f"clone {self.pid}: no {pattern!r}\n--- console tail ---\n"
                                 + self.text()[-2000:])
            time.sleep(0.05)

    def run(self, command, timeout=120):
        marker = f"__done_{time.monotonic_ns()}__"
        start = len(self.text())
        r = self.api.call({"cmd": "input",
                           "data": f"{command}; echo {marker[:6]}''{marker[6:]} $?\n"})
        check(r["ok"] is True, f"input: {r!r}")
        m = self.expect(re.escape(marker) + r" (\d+)", timeout, start)
        out = self.text()[start:m.start()]
        out = out.split("\n", 1)[1] if "\n" in out else ""
        return out.replace("\r", ""), int(m.group(1))

    def quit(self):
        r = self.api.call({"cmd": "quit"})
        check(r["ok"] is True, f"clone quit: {r!r}")
        wait_gone(self.pid)
        check(not os.path.exists(self.sock), "the clone left its socket file behind")


def clone(api, tmp, name, **args):
    console = os.path.join(tmp, name + ".console")
    req = {"id": name, "cmd": "clone", "sock": os.path.join(tmp, name + ".sock"),
           "console": console}
    req.update(args)
    r = api.call(req)
    check(r.get("id") == name, f"clone reply id: {r!r}")
    return Clone(r, console)


def digest_line(text):
    m = re.search(r"digest=([0-9a-f]{64}) icount=(\d+)", text)
    check(m, f"no digest line in: {text[-1500:]!r}")
    return m.group(1), int(m.group(2))


def test_oracle(tmp):
    sock = os.path.join(tmp, "oracle.sock")
    g = Guest(boot_args(append=APPEND, extra=FIXED + ["--api-sock", sock, "--max-insns", str(N),
                                                      "--digest"]))
    try:
        api = wait_for_socket(sock, g.proc)
        g.wait_ready()
        check(api.call({"cmd": "pause"})["ok"], "pause")
        m = api.call({"cmd": "status"})["icount"]
        check(m < N, f"paused at {m}, beyond N={N}")
        a = clone(api, tmp, "o-a", entropy="inherit", net="none")
        b = clone(api, tmp, "o-b", entropy="inherit")
        r = a.api.call({"cmd": "status"})
        check(r["state"] == "paused" and r["icount"] == m, f"clone a at the fork: {r!r}")
        aa = clone(a.api, tmp, "o-aa", entropy="inherit")
        # One typed newline must show in the digest, or the oracle proves nothing.
        typed = clone(api, tmp, "o-typed", entropy="inherit")
        check(typed.api.call({"cmd": "input", "data": "\n"})["ok"], "input")
        for vm in (api, a.api, b.api, aa.api, typed.api):
            check(vm.call({"cmd": "resume"})["ok"], "resume")
        check(g.wait_exit(600) == 124, "the parent did not stop at --max-insns")
        parent = digest_line(g.stderr())
        check(parent[1] == N, f"parent stopped at {parent[1]}")
        for c in (a, b, aa):
            c.expect(r"digest=[0-9a-f]{64} icount=\d+", 600)
            wait_gone(c.pid)
            got = digest_line(c.text())
            check(got == parent, f"clone {c.sock} (forked at {m}): {got} vs parent {parent}")
        typed.expect(r"digest=[0-9a-f]{64} icount=\d+", 600)
        check(digest_line(typed.text()) != parent, "a clone given input kept the digest")
    finally:
        g.kill()


def stats_lines(text):
    """--stats' counts of the caches, without the times."""
    blocks = re.search(r"blocks built=\d+ stale=\d+ evicted=\d+ evicted_jit=\d+", text)
    jit = re.search(r"jit blocks=\d+ code_bytes=\d+", text)
    check(blocks and jit, f"no --stats lines in: {text[-1500:]!r}")
    return blocks.group(0), jit.group(0)


def test_oracle_inherited(tmp):
    """The oracle with clones that start with a copy of the parent's
    decoded blocks and translations (--jit-clone-cache inherit; the
    default, empty caches, is test_oracle's): the clone reaches the
    parent's digest at N, and its cache counts (cumulative, the parent's
    at the fork included) are the parent's too, which they are only if
    it built on the parent's table rather than an empty one."""
    sock = os.path.join(tmp, "inherit.sock")
    g = Guest(boot_args(append=APPEND, extra=FIXED + [
        "--api-sock", sock, "--max-insns", str(N), "--digest", "--stats",
        "--jit-clone-cache", "inherit"]))
    try:
        api = wait_for_socket(sock, g.proc)
        g.wait_ready()
        check(api.call({"cmd": "pause"})["ok"], "pause")
        a = clone(api, tmp, "i-a", entropy="inherit", net="none")
        for vm in (api, a.api):
            check(vm.call({"cmd": "resume"})["ok"], "resume")
        check(g.wait_exit(600) == 124, "the parent did not stop at --max-insns")
        a.expect(r"jit exits", 600)
        wait_gone(a.pid)
        err = g.stderr()
        parent = digest_line(err)
        check(digest_line(a.text()) == parent, f"clone: {digest_line(a.text())} vs {parent}")
        mine, its = stats_lines(err), stats_lines(a.text())
        check(mine == its, f"the clone's caches were not the parent's: {its} vs {mine}")
        print(f"inherited caches: digest at {N} equal, counts equal ({its[0]}; {its[1]})")
    finally:
        g.kill()


def check_bad_requests(api, tmp, parent_sock, live_clone_sock):
    long_path = "/tmp/" + "x" * 120
    cases = [
        ({}, 'needs "sock"'),
        ({"sock": 5}, '"sock" must be a non-empty string'),
        ({"sock": ""}, '"sock" must be a non-empty string'),
        ({"sock": long_path}, "longer than 107"),
        ({"sock": parent_sock}, "own socket"),
        ({"sock": "S", "net": "tap"}, "only 'user'"),
        ({"sock": "S", "net": "user"}, "no network device"),
        ({"sock": "S", "entropy": "maybe"}, '"fresh" or "inherit"'),
        ({"sock": "S", "console": 3}, '"console" must be a non-empty string'),
        ({"sock": "S", "console": os.path.join(tmp, "no/such/dir/c")}, "no/such/dir"),
        ({"sock": "S", "bogus": 1}, "unknown argument 'bogus'"),
        ({"sock": os.path.join(tmp, "no/such/dir/c.sock")}, "no/such/dir/c.sock: "),
        ({"sock": live_clone_sock}, "another server"),
    ]
    for args, needle in cases:
        req = {"id": "bad", "cmd": "clone"}
        req.update({k: (os.path.join(tmp, "bad.sock") if v == "S" else v)
                    for k, v in args.items()})
        r = api.call(req)
        check(r["ok"] is False and needle in r.get("error", "") and r["id"] == "bad",
              f"clone {args}: {r!r}")
        check(not os.path.exists(os.path.join(tmp, "bad.sock")), f"{args}: socket left behind")
    r = api.call({"cmd": "input"})
    check(r["ok"] is False and 'needs "data"' in r["error"], f"input without data: {r!r}")
    r = api.call({"cmd": "input", "data": "x" * 5000})
    check(r["ok"] is False and "room for" in r["error"], f"input too long: {r!r}")


def check_pipelined_and_ctl(api, tmp, sock):
    """A request sent right behind a clone is answered after it, by the
    parent; `keel ctl clone` makes relative paths absolute."""
    child = os.path.join(tmp, "pipe.sock")
    api.send_raw(json.dumps({"id": "c", "cmd": "clone", "sock": child}).encode() + b"\n" +
                 b'{"id":"s","cmd":"status"}\n')
    r, s = api.reply(), api.reply()
    check(r["id"] == "c" and r["ok"] and s["id"] == "s" and s["ok"], f"pipelined: {r!r} {s!r}")
    Clone(r, "/dev/null").quit()
    p = subprocess.run([keel_path(), "ctl", "--sock", sock, "clone", "--sock", "ctl.sock",
                        "--console", "ctl.log"], cwd=tmp, capture_output=True, text=True,
                       timeout=120)
    check(p.returncode == 0, f"keel ctl clone: {p.returncode} {p.stdout} {p.stderr}")
    c = Clone(json.loads(p.stdout), os.path.join(tmp, "ctl.log"))
    check(c.sock == os.path.join(tmp, "ctl.sock"), f"ctl clone socket: {c.sock}")
    p = subprocess.run([keel_path(), "ctl", "--sock", c.sock, "input", "echo via-$((2+3))\n"],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, f"keel ctl input: {p.returncode} {p.stdout} {p.stderr}")
    c.expect("via-5")
    c.quit()
    p = subprocess.run([keel_path(), "ctl", "--sock", sock, "clone", "--net"], capture_output=True,
                       text=True, timeout=120)
    check(p.returncode == 2 and "usage: clone" in p.stderr, f"ctl clone usage: {p.stderr!r}")


def test_independent(tmp):
    """Items 2, 3 and 4 on one parent (seeded entropy, no network)."""
    sock = os.path.join(tmp, "p.sock")
    g = Guest(boot_args(append=APPEND, extra=["--entropy-seed", "7", "--api-sock", sock]))
    try:
        api = wait_for_socket(sock, g.proc)
        g.wait_ready()
        out, rc = g.run("echo parent > /tmp/parent-only")
        # A second client keeps asking the parent while the clone is made.
        watcher = Client(sock)
        watcher.send_raw(b'{"id":"w1","cmd":"status"}\n')
        c = clone(api, tmp, "ind")
        watcher.send_raw(b'{"id":"w2","cmd":"status"}\n')
        check([watcher.reply()["id"], watcher.reply()["id"]] == ["w1", "w2"],
              "the parent stopped answering around the clone")
        check(c.pid != g.proc.pid, "the clone is the parent")
        out, rc = c.run("echo clone > /tmp/clone-only; cat /tmp/parent-only")
        check(rc == 0 and "parent" in out, f"the clone lacks the parent's file: {out!r}")
        out, rc = g.run("cat /tmp/clone-only")
        check(rc != 0, f"the clone's file appeared in the parent: {out!r}")
        out, rc = c.run("cat /tmp/clone-only")
        check(rc == 0 and "clone" in out, f"clone's own file: {out!r}")
        check("echo clone >" not in g.text(), "the clone's console leaked into the parent's")
        # Fresh entropy: the parent's bytes are its seeded stream, the clone's are not.
        stream = seeded_stream(7, 1 << 20)
        out, rc = g.run(HWRNG)
        pbytes = bytes.fromhex(re.search(r"[0-9a-f]{128}", out).group(0))
        out, rc = c.run(HWRNG)
        cbytes = bytes.fromhex(re.search(r"[0-9a-f]{128}", out).group(0))
        check(pbytes in stream, "the parent's hwrng bytes are not its seeded stream")
        # Only the tail: the guest's hw_random core may hold bytes it read
        # before the fork (docs/clone.md).
        check(cbytes != pbytes and cbytes[-16:] not in stream,
              f"the clone's hwrng bytes come from the parent's seed: {cbytes.hex()}")
        check_bad_requests(api, tmp, sock, c.sock)
        c.quit()
        check_pipelined_and_ctl(api, tmp, sock)
        out, rc = g.run("echo still-$((6*7))")
        check(rc == 0 and "still-42" in out, f"the parent after the clone quit: {out!r}")
        check(api.call({"cmd": "status"})["state"] == "running", "parent status")
        r = api.call({"id": "q", "cmd": "quit"})
        check(r["ok"] is True and g.wait_exit(60) == 0, "parent quit")
    finally:
        g.kill()


def test_disks(tmp):
    """A read-only disk is shared; a raw disk the parent writes in place is
    refused; an overlay works and each VM's writes stay its own: the clone
    writes a file the parent never sees and the parent one the clone never
    sees.  The API answers during boot, so the refusals need no wait."""
    rootfs = guest_files()["rootfs"]
    raw = os.path.join(tmp, "rw.img")
    with open(rootfs, "rb") as src, open(raw, "wb") as dst:
        dst.write(src.read(1 << 20))
    for disk, ok in ((rootfs + ",readonly", True), (raw, False)):
        sock = os.path.join(tmp, "d.sock")
        g = Guest(boot_args(disk=disk, append=APPEND, extra=["--api-sock", sock]))
        try:
            api = wait_for_socket(sock, g.proc)
            r = api.call({"cmd": "clone", "sock": os.path.join(tmp, "dc.sock")})
            if ok:
                Clone(r, "/dev/null").quit()
            else:
                check(r["ok"] is False and "read-only disk or a disk overlay" in r["error"],
                      f"writable disk: {r!r}")
            check(api.call({"cmd": "quit"})["ok"], "quit")
            g.wait_exit(60)
        finally:
            g.kill()
    check_overlay_clone(tmp, rootfs)


def check_overlay_clone(tmp, rootfs):
    sock, overlay = os.path.join(tmp, "o.sock"), os.path.join(tmp, "o.kov")
    g = Guest(boot_args(disk=f"{rootfs},overlay={overlay}", append=APPEND,
                        extra=["--api-sock", sock]))
    try:
        api = wait_for_socket(sock, g.proc)
        g.wait_ready()
        out, rc = g.run("cat /etc/keel-root")
        check("disk" in out, f"not on the disk: {out!r}")
        c = clone(api, tmp, "oc")
        c.run("echo from-clone > /root/clone-file; sync")
        g.run("echo from-parent > /root/parent-file; sync")
        out, rc = c.run("cat /root/clone-file; ls /root")
        check("from-clone" in out and "parent-file" not in out, f"clone's disk: {out!r}")
        out, rc = g.run("cat /root/parent-file; ls /root")
        check("from-parent" in out and "clone-file" not in out, f"parent's disk: {out!r}")
        c.quit()
        g.send("poweroff -f\n")
        check(g.wait_exit(120) == 0, "parent poweroff")
    finally:
        g.kill()
    # The clone's writes never reached the shared overlay.
    p = subprocess.run([keel_path(), "disk", "check", overlay], capture_output=True, text=True)
    check(p.returncode == 0, f"keel disk check after the clone: {p.stdout} {p.stderr}")


def fetch(url):
    try:
        return test_net.fetch(url)
    except AssertionError as e:
        raise GuestError(str(e))


def test_network(tmp):
    sock = os.path.join(tmp, "n.sock")
    pport, cport = free_port(), free_port()
    g = Guest(boot_args(net=f"user,hostfwd=tcp:127.0.0.1:{pport}-:80",
                        extra=["--api-sock", sock]))
    try:
        api = wait_for_socket(sock, g.proc)
        g.wait_ready()
        g.run("echo parent > /www/who.txt")
        check(fetch(f"http://127.0.0.1:{pport}/who.txt").strip() == "parent", "parent httpd")
        r = api.call({"cmd": "clone", "sock": os.path.join(tmp, "x.sock"),
                      "net": f"user,hostfwd=tcp:127.0.0.1:{pport}-:80"})
        check(r["ok"] is False and "cannot listen" in r["error"], f"taken port: {r!r}")
        check(not os.path.exists(os.path.join(tmp, "x.sock")), "a failed clone left its socket")
        c = clone(api, tmp, "net", net=f"user,hostfwd=tcp:127.0.0.1:{cport}-:80")
        out, rc = c.run("echo clone > /www/who.txt")
        check(rc == 0, f"clone: {out!r}")
        check(fetch(f"http://127.0.0.1:{cport}/who.txt").strip() == "clone", "clone httpd")
        check(fetch(f"http://127.0.0.1:{pport}/who.txt").strip() == "parent",
              "the parent's port no longer reaches the parent")
        # No network: the clone closed its copy of the parent's forward.
        quiet = clone(api, tmp, "quiet", net="none")
        out, rc = quiet.run("ip link show eth0")
        check(rc == 0, f"virtio-net is gone in a net-none clone: {out!r}")
        check(fetch(f"http://127.0.0.1:{pport}/who.txt").strip() == "parent",
              "a net-none clone took the parent's forward")
        for x in (c, quiet):
            x.quit()
        check(fetch(f"http://127.0.0.1:{pport}/who.txt").strip() == "parent", "after quit")
        api.call({"cmd": "quit"})
        check(g.wait_exit(60) == 0, "parent quit")
    finally:
        g.kill()


def test_terminal(tmp):
    """A parent on a terminal: the clone holds none of the parent's
    descriptors and never restores the terminal's mode (keel's raw mode
    must survive the clone's exit); the parent restores it when it quits."""
    sock = os.path.join(tmp, "term.sock")
    master, slave = os.openpty()
    tty = os.ttyname(slave)
    cooked = termios.tcgetattr(slave)
    p = subprocess.Popen([keel_path(), "run", "--api-sock", sock] + boot_args(append=APPEND),
                         stdin=slave, stdout=slave, stderr=slave)
    def drain():  # keep the terminal's output flowing; EIO once it closes
        try:
            while os.read(master, 4096):
                pass
        except OSError:
            pass
    threading.Thread(target=drain, daemon=True).start()
    try:
        api = wait_for_socket(sock, p)
        raw = termios.tcgetattr(slave)
        check(not raw[3] & termios.ICANON, "keel did not put the terminal in raw mode")
        c = clone(api, tmp, "tty")
        # Once it answers, the clone has also closed the pipe it reported on.
        check(c.api.call({"cmd": "status"})["ok"], "clone status")
        fds = [os.readlink(f"/proc/{c.pid}/fd/{n}")
               for n in sorted(os.listdir(f"/proc/{c.pid}/fd"), key=int)]
        check(tty not in fds, f"the clone holds the parent's terminal: {fds}")
        # stdio, its listening socket and our connection to it: nothing else.
        check(len(fds) == 5 and fds[0] == "/dev/null" and fds[1] == fds[2] == c.console and
              all(f.startswith("socket:") for f in fds[3:]),
              f"the clone kept descriptors beyond stdio and its own sockets: {fds}")
        c.quit()
        check(termios.tcgetattr(slave) == raw, "the clone's exit changed the terminal's mode")
        check(api.call({"cmd": "quit"})["ok"], "quit")
        check(p.wait(60) == 0, "parent exit")
        check(termios.tcgetattr(slave)[3] == cooked[3], "the parent did not restore the terminal")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(slave)
        os.close(master)


def test():
    tmp = tempfile.mkdtemp(prefix="keel-clone-")
    try:
        test_independent(tmp)
        test_terminal(tmp)
        test_disks(tmp)
        test_network(tmp)
        test_oracle(tmp)
        test_oracle_inherited(tmp)
    finally:
        # Never leave a clone running, whatever failed.
        for name in os.listdir(tmp):
            if name.endswith(".sock"):
                try:
                    Client(os.path.join(tmp, name), timeout=5).call({"cmd": "quit"})
                except (OSError, GuestError):
                    pass


if __name__ == "__main__":
    main(test)
