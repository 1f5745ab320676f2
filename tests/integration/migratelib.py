"""What the migration tests share (test_migrate, test_migrate_postcopy,
test_debian, bench/migrate-bench): keels whose stderr can be waited on,
a destination waiting on `keel run --incoming`, a source with a control
socket, `keel ctl migrate`, and a pair of both that is cleaned up."""
import contextlib
import json
import os
import re
import select
import subprocess
import time

from guestlib import Guest, boot_args, check, free_port, keel_path
from test_clone import wait_for_socket

APPEND = "console=ttyS0 keel.net=off"
FIXED = ["--entropy-seed", "3", "--rtc-epoch", "1790000000", "-m", "256M"]


class Keel(Guest):
    """A keel whose stderr is collected as it comes, so a test can wait
    for a line there (the destination says when it listens)."""

    def __init__(self, args):
        super().__init__(args)
        os.set_blocking(self.proc.stderr.fileno(), False)
        self.err = b""

    def errtext(self):
        fd = self.proc.stderr.fileno()
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            self.err += chunk
        return self.err.decode("utf-8", "replace")

    def expect_err(self, pattern, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.errtext())
            if m:
                return m
            check(time.monotonic() < deadline,
                  f"no {pattern!r} on stderr of {self.cmd[:4]}:\n{self.errtext()[-2000:]}")
            self._read_some(0.1)  # keep the console pipe drained

    def stderr(self):
        return self.errtext()


def destination(tmp, name, key, port, extra=()):
    d = Keel(["--incoming", f"tcp:127.0.0.1:{port}", "--key", key,
              "--api-sock", os.path.join(tmp, name + ".sock"), "--idle-sleep", "off"]
             + FIXED + list(extra))
    d.expect_err(r"waiting for a migration")
    return d


def source(tmp, name, disk="none", extra=()):
    sock = os.path.join(tmp, name + ".sock")
    g = Keel(boot_args(disk=disk, append=APPEND, extra=FIXED + ["--api-sock", sock] + list(extra)))
    return g, wait_for_socket(sock, g.proc), sock


class Pair:
    """A destination on a fresh port and a source (see pair())."""

    def __init__(self, tmp, name, key, dst_extra, src_disk, src_extra):
        self.port = free_port()
        self.others = []
        self.src = None
        self.dst = destination(tmp, name + "-dst", key, self.port, dst_extra)
        self.src, self.api, self.sock = source(tmp, name + "-src", src_disk, src_extra)

    def also(self, keel):
        """Kill `keel` too at the end; returns it."""
        self.others.append(keel)
        return keel

    def kill(self):
        for k in [self.src, self.dst] + self.others:
            if k:
                k.kill()


@contextlib.contextmanager
def pair(tmp, name, key, dst_extra=(), src_disk="none", src_extra=()):
    """A destination NAME-dst waiting on a fresh port and a source NAME-src
    with a control socket; everything killed on the way out."""
    p = None
    try:
        p = Pair(tmp, name, key, dst_extra, src_disk, src_extra)
        yield p
    finally:
        if p:
            p.kill()


def migrate(sock, port, key, *opts):
    p = subprocess.run([keel_path(), "ctl", "--sock", sock, "migrate", f"tcp:127.0.0.1:{port}",
                        "--key", key, "--json"] + list(opts),
                       capture_output=True, text=True, timeout=600)
    reply = json.loads(p.stdout) if p.stdout.strip().startswith("{") else None
    return p.returncode, reply, p.stderr


def ctl_migrate(sock, port, key, *opts):
    """keel ctl migrate in the background, its progress on stderr."""
    return subprocess.Popen([keel_path(), "ctl", "--sock", sock, "migrate",
                             f"tcp:127.0.0.1:{port}", "--key", key] + list(opts),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_line(proc, prefix, timeout=120):
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith(prefix):
            return line
    check(False, f"no {prefix!r} line from keel ctl migrate: {''.join(lines)!r}")


def keygen(tmp, name):
    path = os.path.join(tmp, name)
    p = subprocess.run([keel_path(), "migrate", "keygen", path], capture_output=True, text=True)
    check(p.returncode == 0 and os.stat(path).st_mode & 0o777 == 0o600, f"keygen: {p.stderr}")
    return path


def running_on(api):
    """The VM still runs: its icount moves."""
    a = api.call({"cmd": "status"})
    time.sleep(0.3)
    b = api.call({"cmd": "status"})
    check(a["ok"] and b["state"] == "running" and b["icount"] > a["icount"],
          f"the source is not running on: {a!r} {b!r}")
