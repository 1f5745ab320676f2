#!/usr/bin/env python3
"""Every `keel run` option given with --restore takes effect or is
refused; none is silently ignored (cmd_run.c, check_restore_options).

The case that was ignored: a VM saved while drawing entropy from the host,
restored with --entropy-seed N, kept drawing from the host, so two
restores with one seed diverged.  Now the restored guest's /dev/hwrng
reads come from N's seeded stream, in both restores.  And options only a
boot reads (--initrd) or that would contradict the saved state
(--rtc-epoch, --snapshot-at before the saved instruction count or not
before --max-insns) are
refused with a message naming the option."""
import os
import re
import subprocess
import tempfile

from guestlib import Guest, boot_args, check, keel_path, main
from test_entropy import seeded_stream

APPEND = "console=ttyS0 keel.net=off"
# The guest's hwrng core and virtio-rng driver each buffer up to 64 bytes
# drawn before the snapshot, so the first bytes read after a restore may
# be the saved VM's host entropy: read 1 KiB and judge its last 64.
READ = "head -c 1024 /dev/hwrng | od -An -tx1 | tr -d ' \\n'"
FRESH = 64


def save_unseeded(tmp):
    """Boot with host entropy and the RTC at 1790000000 s, save at the shell
    prompt over the control socket, quit."""
    sock, snap = os.path.join(tmp, "api.sock"), os.path.join(tmp, "vm.snap")
    g = Guest(boot_args(append=APPEND, extra=["--api-sock", sock, "--rtc-epoch", "1790000000"]))
    try:
        g.wait_ready()
        for req in (["snapshot", snap], ["quit"]):
            p = subprocess.run([keel_path(), "ctl", "--sock", sock] + req, capture_output=True,
                               text=True, timeout=120)
            check(p.returncode == 0 and '"ok": true' in p.stdout, f"ctl {req}: {p.stdout}{p.stderr}")
        check(g.wait_exit(60) == 0, f"keel after quit\n{g.stderr()}")
    finally:
        g.kill()
    return snap


def restore(snap, *extra):
    return ["--restore", snap, "--disk", "none", "--idle-sleep", "off"] + list(extra)


def hwrng_after_restore(snap, seed):
    g = Guest(restore(snap, "--entropy-seed", str(seed)))
    try:
        out, rc = g.run(READ)
        m = re.search(r"[0-9a-f]{2048}", out)
        check(rc == 0 and m, f"reading /dev/hwrng after restore: rc={rc} {out!r}")
        return bytes.fromhex(m.group(0))[-FRESH:]
    finally:
        g.kill()


def refused(args, *words):
    p = subprocess.run([keel_path(), "run"] + args, capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    check(p.returncode == 1 and all(w in p.stderr for w in words),
          f"keel run {' '.join(args)}: exit {p.returncode}, wanted a refusal naming {words}: "
          f"{p.stderr!r}")


def test():
    stream5 = seeded_stream(5, 1 << 20)
    with tempfile.TemporaryDirectory() as tmp:
        snap = save_unseeded(tmp)
        for attempt in (1, 2):
            got = hwrng_after_restore(snap, 5)
            check(got in stream5, f"restore {attempt} with --entropy-seed 5: {got.hex()} is not "
                                  "in seed 5's stream (the snapshot's host entropy was kept)")

        refused(restore(snap, "--initrd", "/dev/null"), "--initrd", "saved RAM")
        refused(restore(snap, "--rtc-epoch", "1700000000"), "--rtc-epoch", "1790000000")
        refused(restore(snap, "--snapshot-at", f"1:{os.path.join(tmp, 'early.snap')}"),
                "--snapshot-at", "before")
        # A snapshot the run would end before reaching is refused, not
        # silently never written.
        late = os.path.join(tmp, "late.snap")
        refused(restore(snap, "--max-insns", "999999999999", "--snapshot-at",
                        f"999999999999:{late}"), "--snapshot-at", "--max-insns")
        check(not os.path.exists(late), f"{late} was written")
        # The same epoch is no contradiction: the restore runs.
        g = Guest(restore(snap, "--rtc-epoch", "1790000000"))
        try:
            out, rc = g.run("echo restored-ok")
            check("restored-ok" in out, f"restore with the saved epoch: {out!r}")
        finally:
            g.kill()


if __name__ == "__main__":
    main(test)
