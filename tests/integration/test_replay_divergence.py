#!/usr/bin/env python3
"""An injected divergence (docs/replay.md, "Divergence"): record a short
session, then replay it with the test-only --debug-perturb X:2, which
flips bit 0 of sp at icount X.  Replay must stop at the first checkpoint
after X and say so, and --bisect must name X as the first divergent
instruction.  A replay without the flag is the control.  Then keel
record is started from a snapshot the replay took (--restore), logging
the older state digest version 3 (--digest-version 3, as logs recorded
before version 4 carry), and that recording must replay too, and still
catch a perturbation."""
import os
import re
import subprocess
import tempfile

from guestlib import Guest, boot_args, check, keel_path, main

EVERY = 5_000_000


def keel(*args, timeout=600):
    p = subprocess.run([keel_path(), *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def test():
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log")
        g = Guest([], command=[keel_path(), "record", "--log", log, "--checkpoint-every",
                               str(EVERY)] + boot_args(append="console=ttyS0 keel.net=off"))
        try:
            g.wait_ready()
            out, rc = g.run("echo diverge-me")
            g.send("poweroff -f\n")
            check(g.wait_exit(120) == 0, f"record: {g.stderr()}")
        finally:
            g.kill()
        rc, out, err = keel("replay", log, "--quiet")
        check(rc == 0, f"clean replay: exit {rc}: {err}")
        m = re.search(r"icount (\d+)", err.splitlines()[-1])
        end = int(m.group(1))
        # A checkpoint well inside the run, and X just before it.
        checkpoint = (end // EVERY // 2) * EVERY
        x = checkpoint - 1000
        rc, out, err = keel("replay", log, "--quiet", "--debug-perturb", f"{x}:2")
        check(rc == 3, f"perturbed replay: exit {rc}: {err}")
        check(f"differs at the checkpoint at icount {checkpoint} " in err,
              f"perturbed replay names the wrong place: {err}")
        rc, out, err = keel("replay", log, "--quiet", "--debug-perturb", f"{x}:2", "--bisect")
        check(f"first-divergence icount={x}\n" in out, f"bisect: {out} {err[-1500:]}")
        print(f"perturbation at {x}: reported at checkpoint {checkpoint}, bisect found {x}")
        check_record_from_restore(tmp, log, checkpoint)


def check_record_from_restore(tmp, log, at):
    """keel record also starts from a snapshot (--restore): take one from
    the replay, record a session from it in a new process with digests of
    version 3, replay that."""
    snap, log2 = os.path.join(tmp, "mid.snap"), os.path.join(tmp, "log2")
    rc, out, err = keel("replay", log, "--quiet", "--until", str(at), "--snapshot", snap)
    check(rc == 0, f"replay --until: {err}")
    g = Guest([], command=[keel_path(), "record", "--log", log2, "--restore", snap,
                           "--idle-sleep", "off", "--digest-version", "3",
                           "--checkpoint-every", str(EVERY)])
    try:
        g.wait_ready()  # the snapshot is mid-boot: typing earlier is lost
        out, rc = g.run("echo from-the-snapshot")
        check("from-the-snapshot" in out, f"restored recording: {out!r}")
        g.send("poweroff -f\n")
        check(g.wait_exit(120) == 0, f"record --restore: {g.stderr()}")
    finally:
        g.kill()
    p = subprocess.run([keel_path(), "replay", log2], capture_output=True, timeout=600)
    check(p.returncode == 0 and p.stdout == g.output,
          f"replay of a recording from a snapshot: exit {p.returncode}: "
          f"{p.stderr.decode()[-800:]}")
    m = re.search(r"(\d+) checkpoints matched, icount (\d+), .* \(state digest v3\)",
                  p.stderr.decode())
    check(m and int(m.group(1)) > 2, f"version 3 checkpoints: {p.stderr.decode()[-300:]}")
    checkpoint = at + EVERY  # the recording's first after its start
    x = checkpoint - 1000
    rc, out, err = keel("replay", log2, "--quiet", "--debug-perturb", f"{x}:2")
    check(rc == 3 and f"differs at the checkpoint at icount {checkpoint} " in err,
          f"perturbed v3 replay: exit {rc}: {err}")
    print(f"a version 3 log from a snapshot: {m.group(1)} checkpoints matched; "
          f"a perturbation at {x} was caught")


if __name__ == "__main__":
    main(test)
