#!/usr/bin/env python3
"""Encrypted suspend and resume (docs/snapshot-format.md, "Encrypted
snapshots"; docs/api.md, "suspend"): boot the default guest with
--api-sock, leave a mark in its tmpfs, `keel ctl suspend --encrypt F
--passphrase-fd 3` (keel exits 0, F is sealed), then check that a wrong
passphrase and a flipped byte are refused with a clear message and that
the right passphrase resumes the guest with its mark still there.  Then
the determinism oracle: suspend and resume a VM that gets no input, and it
reaches the digest of a straight run at the same icount."""
import os
import re
import shlex
import subprocess
import tempfile

from guestlib import Guest, boot_args, check, keel_path, main

APPEND = "console=ttyS0 keel.net=off"
PASS = "pw with spaces"
MARK = "sealed-mark-7f3a"


def with_fd3(argv, secret):
    """argv run by a shell that gives it `secret` (one line) on fd 3."""
    return ["bash", "-c", "exec " + " ".join(shlex.quote(a) for a in argv) + ' 3<<<"$SECRET"']


def run_fd3(argv, secret, timeout=300):
    p = subprocess.run(with_fd3(argv, secret), capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, env=dict(os.environ, SECRET=secret),
                       start_new_session=True)
    return p.returncode, p.stdout, p.stderr


class FdGuest(Guest):
    """A Guest whose keel gets `secret` on fd 3."""

    def __init__(self, argv, secret, timeout=300):
        self.cmd = with_fd3(argv, secret)
        self.output = b""
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=dict(os.environ, SECRET=secret))
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.default_timeout = timeout


def test():
    keel = keel_path()
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "api.sock")
        snap = os.path.join(tmp, "vm.sealed")
        g = Guest(boot_args(append=APPEND, extra=["--api-sock", sock]))
        try:
            g.wait_ready()
            out, rc = g.run(f"echo {MARK} > /tmp/mark; cat /tmp/mark")
            check(rc == 0 and MARK in out, f"writing the mark: {out!r}")

            # No fd and no terminal (new session): refused, keel runs on.
            p = subprocess.run([keel, "ctl", "--sock", sock, "suspend", "--encrypt", snap],
                               capture_output=True, text=True, timeout=60,
                               stdin=subprocess.DEVNULL, start_new_session=True)
            check(p.returncode != 0 and "passphrase" in p.stderr,
                  f"suspend without a passphrase source: {p.returncode} {p.stderr!r}")
            check(not os.path.exists(snap), "a snapshot was written without a passphrase")
            out, rc = g.run("echo still-here")
            check("still-here" in out, "the guest stopped after a refused suspend")

            rc, out, err = run_fd3([keel, "ctl", "--sock", sock, "suspend", "--encrypt", snap,
                                    "--passphrase-fd", "3"], PASS)
            check(rc == 0 and '"ok": true' in out, f"suspend: exit {rc}\n{out}\n{err}")
            check(PASS not in out + err, "the passphrase was echoed")
            status = g.wait_exit(120)
            check(status == 0, f"keel exited {status} after suspend\n{g.stderr()}")
        finally:
            g.kill()

        data = open(snap, "rb").read()
        check(data.startswith(b"KEELSEAL"), f"not a sealed snapshot: {data[:16]!r}")
        check(not os.path.exists(snap + ".tmp"), "the .tmp file was left behind")
        check(PASS.encode() not in data, "the passphrase is in the file")

        restore = [keel, "run", "--restore", snap, "--disk", "none", "--idle-sleep", "off",
                   "--passphrase-fd", "3"]
        rc, _, err = run_fd3(restore, "wrong " + PASS)
        check(rc != 0 and "wrong passphrase" in err and "vm.sealed" in err,
              f"wrong passphrase: exit {rc}, {err!r}")

        bad = os.path.join(tmp, "bad.sealed")
        flipped = bytearray(data)
        flipped[len(flipped) // 2] ^= 0x01
        open(bad, "wb").write(flipped)
        rc, _, err = run_fd3(restore[:2] + ["--restore", bad] + restore[4:], PASS)
        check(rc != 0 and "corrupt" in err, f"flipped byte: exit {rc}, {err!r}")

        open(bad, "wb").write(data[:-100])
        rc, _, err = run_fd3(restore[:2] + ["--restore", bad] + restore[4:], PASS)
        check(rc != 0 and "bad.sealed" in err, f"truncated: exit {rc}, {err!r}")

        g = FdGuest(restore, PASS)
        try:
            out, rc = g.run("cat /tmp/mark", timeout=300)
            check(rc == 0 and MARK in out, f"the resumed guest lost its mark: {out!r}")
        finally:
            g.kill()


N = 300_000_000
FIXED = ["--entropy-seed", "5", "--rtc-epoch", "1790000000", "-m", "256M"]


def digest_of(err):
    m = re.search(r"digest=([0-9a-f]{64}) icount=(\d+)", err)
    check(m, f"no digest line in: {err[-800:]!r}")
    return m.group(1), int(m.group(2))


def check_digest_oracle(tmp):
    """The determinism oracle across encrypted suspend and resume: a VM
    given no input, suspended (at whatever icount M the API finds it) and
    resumed in a new process, reaches at N the digest of the same VM run
    straight to N."""
    keel = keel_path()
    args = boot_args(append=APPEND, extra=FIXED + ["--max-insns", str(N), "--digest"])
    p = subprocess.run([keel, "run"] + args, capture_output=True, text=True, timeout=900,
                       stdin=subprocess.DEVNULL)
    check(p.returncode == 124, f"straight run: exit {p.returncode}: {p.stderr[-800:]}")
    straight = digest_of(p.stderr)
    sock, snap = os.path.join(tmp, "o.sock"), os.path.join(tmp, "o.sealed")
    g = Guest(args + ["--api-sock", sock])
    try:
        g.wait_ready()
        rc, out, err = run_fd3([keel, "ctl", "--sock", sock, "suspend", "--encrypt", snap,
                                "--passphrase-fd", "3"], PASS)
        check(rc == 0, f"suspend: exit {rc}\n{out}\n{err}")
        check(g.wait_exit(120) == 0, f"keel after suspend: {g.stderr()}")
    finally:
        g.kill()
    rc, out, err = run_fd3([keel, "run", "--restore", snap, "--disk", "none", "--idle-sleep",
                            "off", "--max-insns", str(N), "--digest", "--passphrase-fd", "3"],
                           PASS)
    check(rc == 124, f"resume: exit {rc}: {err[-800:]}")
    resumed = digest_of(err)
    check(resumed == straight, f"resumed {resumed} != straight {straight}")
    print(f"suspend/resume digest oracle: equal at icount {N}")


def test_all():
    test()
    with tempfile.TemporaryDirectory() as tmp:
        check_digest_oracle(tmp)


if __name__ == "__main__":
    main(test_all)
