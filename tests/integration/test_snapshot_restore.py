#!/usr/bin/env python3
"""The determinism oracle for snapshots: a VM run without interruption to
instruction count N, and the same VM snapshotted at M < N, restored in a
new process and run to N, reach equal state digests.  Checked for several
M during a Linux boot from the ext4 disk (so some fall in the middle of
disk I/O), and for the saving run itself (saving must not perturb it).

The disk is a copy-on-write overlay, so the snapshot holds it: the saving
VM writes on past M, after which a restore needs --overlay NEW (a copy of
the overlay as it was at M) and still reaches the same digest; a restore
whose overlay did not move on continues it in place.  Also refused with a
clear error: a corrupt snapshot, a snapshot for another configuration, and
a base image changed since."""
import os
import re
import shutil
import subprocess
import tempfile

from guestlib import boot_args, check, guest_files, keel_path, main

N = 160_000_000  # the guest writes its disk from ~115M on; a big burst at 143.5M-144.5M
SAVE_POINTS = [20_000_000, 115_000_000, 144_000_000]  # the last in that burst
FIXED = ["--entropy-seed", "3", "--rtc-epoch", "1790000000", "-m", "256M"]
APPEND = "console=ttyS0 keel.net=off"


def keel(args, expect=124):
    p = subprocess.run([keel_path(), "run"] + args, capture_output=True, timeout=900,
                       stdin=subprocess.DEVNULL)
    err = p.stderr.decode("utf-8", "replace")
    check(p.returncode == expect, f"keel {' '.join(args[-6:])}: exit {p.returncode}\n{err}")
    return err


def digest(err):
    m = re.search(r"digest=([0-9a-f]{64}) icount=(\d+)", err)
    check(m, f"no digest line in: {err!r}")
    return m.group(1), int(m.group(2))


def test():
    with tempfile.TemporaryDirectory() as tmp:
        base = os.path.join(tmp, "base.ext4")
        shutil.copyfile(guest_files()["rootfs"], base)

        def booting(overlay_name):
            return boot_args(disk=f"{base},overlay={os.path.join(tmp, overlay_name)}",
                             append=APPEND, extra=FIXED)

        def restoring(snap, *extra):
            return ["--restore", snap, "--idle-sleep", "off"] + list(extra) + FIXED

        straight = digest(keel(booting("straight.kov") + ["--max-insns", str(N), "--digest"]))
        check(straight[1] == N, f"stopped at {straight[1]}, not {N}")
        for m in SAVE_POINTS[:-1]:
            snap = os.path.join(tmp, f"at-{m}.snap")
            saver = digest(keel(booting(f"saver-{m}.kov") + ["--snapshot-at", f"{m}:{snap}",
                                                             "--max-insns", str(N), "--digest"]))
            check(saver == straight, f"saving at {m} changed the run: {saver} vs {straight}")
            # The saving VM wrote on to N: its overlay is no longer the disk at M.
            err = keel(restoring(snap, "--max-insns", str(N)), expect=1)
            check("has grown since the snapshot" in err and "--overlay" in err,
                  f"restore over a grown overlay: {err!r}")
            copy = os.path.join(tmp, f"restored-{m}.kov")
            restored = digest(keel(restoring(snap, "--overlay", copy, "--max-insns", str(N),
                                             "--digest")))
            check(restored == straight,
                  f"restored at {m}: digest {restored} differs from the straight run {straight}")
        # Saved, then stopped one instruction later: the overlay is as the
        # snapshot left it, so the restore appends to it in place.
        m = SAVE_POINTS[-1]
        snap = os.path.join(tmp, f"at-{m}.snap")
        keel(booting("in-place.kov") + ["--snapshot-at", f"{m}:{snap}", "--max-insns", str(m + 1)])
        restored = digest(keel(restoring(snap, "--max-insns", str(N), "--digest")))
        check(restored == straight,
              f"restored in place at {m}: digest {restored} differs from {straight}")

        # Refusals: a flipped byte, a truncated file, another RAM size.
        data = bytearray(open(snap, "rb").read())
        bad = os.path.join(tmp, "bad.snap")
        data[40] ^= 0xff
        open(bad, "wb").write(data)
        fresh = iter(os.path.join(tmp, f"refused-{i}.kov") for i in range(10))
        err = keel(restoring(bad, "--overlay", next(fresh)), expect=1)
        check("bad.snap" in err, f"corrupt snapshot message: {err!r}")
        open(bad, "wb").write(open(snap, "rb").read()[:5000])
        err = keel(restoring(bad, "--overlay", next(fresh)), expect=1)
        check("bad.snap" in err, f"truncated snapshot message: {err!r}")
        err = keel(["--restore", snap, "--overlay", next(fresh), "-m", "128M"], expect=1)
        check("MiB" in err, f"wrong-configuration message: {err!r}")
        err = keel(restoring(snap, "--disk", base), expect=1)
        check("the snapshot names its disk" in err, f"--disk with an overlay snapshot: {err!r}")
        # A raw disk is written in place: the snapshot cannot hold it, so the
        # restore wants the user to vouch for the image.
        raw = os.path.join(tmp, "raw.ext4")
        shutil.copyfile(guest_files()["rootfs"], raw)
        raw_snap = os.path.join(tmp, "raw.snap")
        m = SAVE_POINTS[0]
        keel(boot_args(disk=raw, append=APPEND, extra=FIXED) +
             ["--snapshot-at", f"{m}:{raw_snap}", "--max-insns", str(m + 1)])
        err = keel(restoring(raw_snap, "--disk", raw), expect=1)
        check("--trust-disk" in err and "raw.ext4" in err, f"raw disk restore: {err!r}")
        keel(restoring(raw_snap, "--disk", raw, "--trust-disk", "--max-insns", str(m + 1000)))
        # The base changed since the snapshot: refused, and no copy is left.
        with open(base, "r+b") as f:
            f.seek(1 << 20)
            f.write(b"changed")
        copy = next(fresh)
        err = keel(restoring(snap, "--overlay", copy), expect=1)
        check("base.ext4 has changed" in err, f"changed base message: {err!r}")
        check(not os.path.exists(copy), "a refused restore left its overlay copy behind")


if __name__ == "__main__":
    main(test)
