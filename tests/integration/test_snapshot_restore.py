#!/usr/bin/env python3
"""The determinism oracle for snapshots: a VM run without interruption to
instruction count N, and the same VM snapshotted at M < N, restored in a
new process and run to N, reach equal state digests.  Checked for several
M during a Linux boot from the ext4 disk (so some fall in the middle of
disk I/O), and for the saving run itself (saving must not perturb it).
Also: a corrupt snapshot and a snapshot for another configuration are
refused with a clear error."""
import os
import re
import shutil
import subprocess
import tempfile

from guestlib import boot_args, check, guest_files, keel_path, main

N = 100_000_000
SAVE_POINTS = [20_000_000, 55_000_000, 85_000_000]
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


def fresh_disk(tmp, name):
    path = os.path.join(tmp, name)
    shutil.copyfile(guest_files()["rootfs"], path)
    return path


def test():
    with tempfile.TemporaryDirectory() as tmp:
        base = boot_args(append=APPEND, extra=FIXED)
        straight = digest(keel(base[:base.index("--disk")] + base[base.index("--disk") + 2:] +
                               ["--disk", fresh_disk(tmp, "a.img"), "--max-insns", str(N),
                                "--digest"]))
        check(straight[1] == N, f"stopped at {straight[1]}, not {N}")
        for m in SAVE_POINTS:
            snap = os.path.join(tmp, f"at-{m}.snap")
            disk = fresh_disk(tmp, f"d{m}.img")
            args = [a for a in base]
            args[args.index("--disk") + 1] = disk
            saver = digest(keel(args + ["--snapshot-at", f"{m}:{snap}", "--max-insns", str(N),
                                        "--digest"]))
            check(saver == straight, f"saving at {m} changed the run: {saver} vs {straight}")
            # The disk is not in the snapshot: restore against the disk as it
            # was at M, i.e. replay the saving run's disk up to M.
            disk_at_m = fresh_disk(tmp, f"r{m}.img")
            keel(args[:args.index("--disk")] + ["--disk", disk_at_m] +
                 args[args.index("--disk") + 2:] + ["--max-insns", str(m)])
            restored = digest(keel(["--restore", snap, "--disk", disk_at_m, "--idle-sleep", "off",
                                    "--max-insns", str(N), "--digest"] + FIXED))
            check(restored == straight,
                  f"restored at {m}: digest {restored} differs from the straight run {straight}")
        # Refusals: a flipped byte, a truncated file, another RAM size.
        snap = os.path.join(tmp, f"at-{SAVE_POINTS[0]}.snap")
        data = bytearray(open(snap, "rb").read())
        bad = os.path.join(tmp, "bad.snap")
        data[40] ^= 0xff
        open(bad, "wb").write(data)
        err = keel(["--restore", bad, "--disk", disk_at_m] + FIXED, expect=1)
        check("bad.snap" in err, f"corrupt snapshot message: {err!r}")
        open(bad, "wb").write(open(snap, "rb").read()[:5000])
        err = keel(["--restore", bad, "--disk", disk_at_m] + FIXED, expect=1)
        check("bad.snap" in err, f"truncated snapshot message: {err!r}")
        err = keel(["--restore", snap, "--disk", disk_at_m, "-m", "128M"], expect=1)
        check("MiB" in err, f"wrong-configuration message: {err!r}")


if __name__ == "__main__":
    main(test)
