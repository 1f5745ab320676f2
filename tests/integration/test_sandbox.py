#!/usr/bin/env python3
"""The keel process's own defences (issue 18, docs/sandbox.md, docs/api.md):

- the seccomp filter stops a forbidden system call (KEEL_TEST_FORBIDDEN_SYSCALL
  makes keel call execve after set-up) with a message naming it, and
  --no-sandbox lifts it;
- the terminal's mode comes back when keel dies of a signal (SIGTERM, and
  SIGSYS from the sandbox) while the console has it in raw mode;
- the control socket: mode 0600, refused in a directory others can write,
  and a process of another uid is turned away (SO_PEERCRED) unless
  --api-allow-uid names it;
- the filter is on in every way a VM comes to run, not only `keel run`:
  `keel record` (and a forbidden call kills it too), a fork-clone of it,
  and `keel run --incoming`, from before it parses a byte of the stream
  (the filter is on while it waits, and a forbidden call kills it there)
  to the migrated VM's run.  Seen in
  /proc/PID/status ("Seccomp: 2" is filter mode).  `keel replay` runs
  without the filter by design (docs/sandbox.md), so it is not checked.

Needs no guest: a tiny Linux "Image" that loops on WFI boots on the virt
board as both firmware and kernel."""
import json
import os
import pty
import shutil
import signal
import socket
import subprocess
import tempfile
import termios
import time

from guestlib import check, free_port, keel_path, main, wfi_image

ISA_ELF = os.path.join(os.path.dirname(keel_path()), "tests", "isa", "rv64i-alu.elf")


def virt_args(img, *extra):
    return [keel_path(), "run", "--bios", img, "--kernel", img, *extra]


def test_forbidden_syscall():
    if not os.path.exists(ISA_ELF):
        raise SystemExit(f"missing {ISA_ELF}")
    env = dict(os.environ, KEEL_TEST_FORBIDDEN_SYSCALL="1")
    run = [keel_path(), "run", "--bios", "none", "--kernel", ISA_ELF]
    p = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    check(p.returncode == -signal.SIGSYS, f"forbidden execve: exit {p.returncode}, want SIGSYS")
    check("forbidden system call execve" in p.stderr, f"no clear message: {p.stderr!r}")
    # Without the filter the same call goes through (execve of /bin/true).
    p = subprocess.run(run[:2] + ["--no-sandbox"] + run[2:], env=env, capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 0, f"--no-sandbox: exit {p.returncode}: {p.stderr}")
    # And a normal run under the filter completes.
    p = subprocess.run(run, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"sandboxed ISA test: exit {p.returncode}: {p.stderr}")


def raw_mode(fd):
    return not (termios.tcgetattr(fd)[3] & termios.ICANON)


def keel_on_tty(args, env=None):
    """Start keel with a pseudo-terminal as its console; wait until it put
    the terminal in raw mode.  Returns (process, master fd, slave fd)."""
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    check(not raw_mode(slave), "a fresh pty is already raw")
    p = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env,
                         start_new_session=True)
    deadline = time.time() + 20
    while not raw_mode(slave) and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    check(raw_mode(slave) or p.poll() is not None, f"keel never put the terminal in raw mode (exit {p.poll()})")
    return p, master, slave, before


def drain(master):
    out = b""
    os.set_blocking(master, False)
    try:
        while True:
            chunk = os.read(master, 4096)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    return out.decode(errors="replace")


def test_tty_restored(tmp):
    img = os.path.join(tmp, "wfi.img")
    wfi_image(img)
    # With nothing to wake the hart keel would exit at once; a control
    # socket keeps it waiting.
    api = os.path.join(tmp, "tty-api")
    os.mkdir(api, 0o700)
    for how in ("SIGTERM", "SIGSYS"):
        env = dict(os.environ)
        if how == "SIGSYS":
            env["KEEL_TEST_FORBIDDEN_SYSCALL"] = "1"
        sock = os.path.join(api, how + ".sock")
        p, master, slave, before = keel_on_tty(virt_args(img, "--api-sock", sock), env)
        if how == "SIGTERM":
            p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=20)
        want = -signal.SIGTERM if how == "SIGTERM" else -signal.SIGSYS
        check(rc == want, f"{how}: exit {rc}, want {want}")
        check(termios.tcgetattr(slave) == before, f"{how}: terminal left in raw mode")
        if how == "SIGSYS":
            out = drain(master)
            check("forbidden system call execve" in out, f"SIGSYS message: {out!r}")
        os.close(master)
        os.close(slave)


def api_status(path, timeout=10):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(b'{"id":1,"cmd":"status"}\n')
        return s.recv(65536).decode()


def start_with_api(img, sock, *extra):
    p = subprocess.Popen(virt_args(img, "--api-sock", sock, *extra), stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 20
    while not os.path.exists(sock) and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    check(os.path.exists(sock), f"no socket: {p.stderr.read() if p.poll() is not None else ''}")
    return p


def quit_keel(p, sock):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(sock)
        s.sendall(b'{"cmd":"quit"}\n')
        s.recv(1000)
    check(p.wait(timeout=20) == 0, "quit: keel did not exit 0")


def as_nobody_with_dac_override(sock):
    """Connect as uid 65534 holding CAP_DAC_OVERRIDE, which gets past the
    file modes: only SO_PEERCRED can turn it away."""
    # A refused client gets its error reply unasked; only if none comes
    # does it send a request (sending first could race with the close).
    code = ("import socket,sys\n"
            "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(2)\n"
            "try: print(s.recv(4096).decode())\n"
            "except socket.timeout:\n"
            "    s.settimeout(10); s.sendall(b'{\"cmd\":\"status\"}\\n')\n"
            "    print(s.recv(4096).decode())\n")
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "--inh-caps=+dac_override", "--ambient-caps=+dac_override",
                        "python3", "-c", code, sock], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def test_api_socket(tmp):
    img = os.path.join(tmp, "wfi.img")
    wfi_image(img)
    private = os.path.join(tmp, "private")
    os.mkdir(private, 0o700)
    sock = os.path.join(private, "k.sock")
    p = start_with_api(img, sock)
    try:
        mode = os.stat(sock).st_mode & 0o777
        check(mode == 0o600, f"socket mode {mode:o}, want 600")
        check('"ok":true' in api_status(sock), "status from keel's own uid refused")
        can_switch = os.geteuid() == 0 and shutil.which("setpriv")
        if can_switch:
            rc, out = as_nobody_with_dac_override(sock)
            check("SO_PEERCRED" in out and '"ok":false' in out,
                  f"another uid was served: rc {rc}: {out!r}")
        quit_keel(p, sock)
        if can_switch:
            p = start_with_api(img, sock, "--api-allow-uid", "65534")
            rc, out = as_nobody_with_dac_override(sock)
            check('"ok":true' in out, f"--api-allow-uid 65534 refused it: {out!r}")
            quit_keel(p, sock)
        else:
            print("note: not root or no setpriv: SO_PEERCRED refusal not exercised")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    shared = os.path.join(tmp, "shared")
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    r = subprocess.run(virt_args(img, "--api-sock", os.path.join(shared, "k.sock")),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    check(r.returncode == 1 and "not private" in r.stderr,
          f"socket in a mode 1777 directory: exit {r.returncode}: {r.stderr!r}")
    check(not os.path.exists(os.path.join(shared, "k.sock")), "socket made in a shared dir")


def seccomp_mode(pid):
    """0: no seccomp, 1: strict, 2: a filter (proc(5))."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Seccomp:"):
                return int(line.split()[1])
    raise SystemExit("no Seccomp line in /proc/PID/status: kernel without seccomp")


def filtered(pid, timeout=20):
    """The process at pid comes under a seccomp filter: its socket is
    there a moment before set-up ends, so wait for it."""
    deadline = time.time() + timeout
    while seccomp_mode(pid) != 2 and time.time() < deadline:
        time.sleep(0.05)
    return seccomp_mode(pid) == 2


def api_call(sock, req, timeout=20):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(sock)
        s.sendall(json.dumps(req).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)


def wait_for(path, p, what, timeout=20):
    deadline = time.time() + timeout
    while not os.path.exists(path) and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    check(os.path.exists(path), f"{what}: no {path} (exit {p.poll()})")


def test_record_and_clone(tmp, img):
    log, sock = os.path.join(tmp, "rec-log"), os.path.join(tmp, "private", "rec.sock")
    rec = [keel_path(), "record", "--log", log, "--bios", img, "--kernel", img]
    env = dict(os.environ, KEEL_TEST_FORBIDDEN_SYSCALL="1")
    r = subprocess.run(rec, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == -signal.SIGSYS and "forbidden system call execve" in r.stderr,
          f"keel record with a forbidden call: exit {r.returncode}: {r.stderr!r}")
    shutil.rmtree(log)
    p = subprocess.Popen(rec + ["--api-sock", sock], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    clone_pid = None
    try:
        wait_for(sock, p, "keel record")
        check(filtered(p.pid), "keel record runs without the seccomp filter")
        csock = os.path.join(tmp, "private", "clone.sock")
        reply = api_call(sock, {"id": 1, "cmd": "clone", "sock": csock})
        check(reply.get("ok") is True, f"clone: {reply!r}")
        clone_pid = reply["pid"]
        check(filtered(clone_pid), "a fork-clone runs without the seccomp filter")
        check(api_call(csock, {"cmd": "quit"}).get("ok") is True, "clone quit")
        deadline = time.time() + 20
        while os.path.exists(f"/proc/{clone_pid}") and time.time() < deadline:
            time.sleep(0.05)
        clone_pid = None
        check(api_call(sock, {"cmd": "quit"}).get("ok") is True, "record quit")
        check(p.wait(timeout=30) == 0, f"keel record exit {p.returncode}: {p.stderr.read()}")
    finally:
        for pid in [clone_pid] if clone_pid else []:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if p.poll() is None:
            p.kill()
            p.wait()


def incoming(key, port, dsock, env=None):
    return subprocess.Popen([keel_path(), "run", "--incoming", f"tcp:127.0.0.1:{port}", "--key",
                             key, "--api-sock", dsock], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def migrate_in(tmp, img, key, name):
    """A WFI VM migrated into `keel run --incoming`; returns the destination,
    which was under the filter before the stream began."""
    port = free_port()
    dsock = os.path.join(tmp, "private", name + "-dst.sock")
    ssock = os.path.join(tmp, "private", name + "-src.sock")
    dst = incoming(key, port, dsock)
    check(filtered(dst.pid), "keel run --incoming waits for the stream without the filter")
    src = start_with_api(img, ssock)
    try:
        deadline = time.time() + 20
        while True:  # the destination listens once it says so; retry until then
            m = subprocess.run([keel_path(), "ctl", "--sock", ssock, "migrate",
                                f"tcp:127.0.0.1:{port}", "--key", key, "--json"],
                               capture_output=True, text=True, timeout=120)
            if m.returncode == 0 or time.time() > deadline or dst.poll() is not None:
                break
            time.sleep(0.2)
        check(m.returncode == 0, f"migrate: {m.returncode}: {m.stdout} {m.stderr}")
        check(src.wait(timeout=30) == 0, "the source did not exit 0 after migrating")
    finally:
        if src.poll() is None:
            src.kill()
            src.wait()
    return dst, dsock


def test_incoming(tmp, img):
    key = os.path.join(tmp, "mig.key")
    r = subprocess.run([keel_path(), "migrate", "keygen", key], capture_output=True, text=True)
    check(r.returncode == 0, f"migrate keygen: {r.stderr}")
    dst, dsock = migrate_in(tmp, img, key, "in")
    try:
        wait_for(dsock, dst, "keel run --incoming")
        check(filtered(dst.pid), "a migrated-in VM runs without the seccomp filter")
        check(api_call(dsock, {"cmd": "quit"}).get("ok") is True, "destination quit")
        check(dst.wait(timeout=30) == 0, f"destination exit {dst.returncode}")
    finally:
        if dst.poll() is None:
            dst.kill()
            dst.wait()
    # The filter is on before any source connects: a call it forbids
    # kills the destination while it still waits.
    env = dict(os.environ, KEEL_TEST_FORBIDDEN_SYSCALL="1")
    dst = incoming(key, free_port(), os.path.join(tmp, "private", "in-forbidden.sock"), env)
    try:
        rc = dst.wait(timeout=30)
        err = dst.stderr.read()
        check(rc == -signal.SIGSYS and "forbidden system call execve" in err and
              "waiting for a migration" not in err,
              f"--incoming with a forbidden call: exit {rc}: {err!r}")
    finally:
        if dst.poll() is None:
            dst.kill()
            dst.wait()


def test_every_path(tmp):
    img = os.path.join(tmp, "wfi.img")
    wfi_image(img)
    os.makedirs(os.path.join(tmp, "private"), 0o700, exist_ok=True)
    test_record_and_clone(tmp, img)
    test_incoming(tmp, img)


def test():
    test_forbidden_syscall()
    with tempfile.TemporaryDirectory() as tmp:
        test_tty_restored(tmp)
        test_api_socket(tmp)
        test_every_path(tmp)


if __name__ == "__main__":
    main(test)
