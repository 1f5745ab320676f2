#!/usr/bin/env python3
"""Dirty-page tracking on a booting Linux guest, through `keel run
--track-dirty MS` (docs/taps.md, "Dirty pages"): a fetch-and-clear every
MS million instructions finds pages each round, and the boot ends in the
same state, instruction for instruction, as one without tracking.  The
exactness of the bitmap itself is tests/unit/test_dirty.c's job."""
import re
import subprocess

from guestlib import boot_args, check, keel_path, main

APPEND = "console=ttyS0 keel.net=off keel.poweroff"


def boot(extra):
    args = boot_args(append=APPEND, extra=["--entropy-seed", "7", "--rtc-epoch", "1790000000",
                                           "--digest", "--stats"] + extra)
    p = subprocess.run([keel_path(), "run"] + args, capture_output=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    err = p.stderr.decode()
    check(p.returncode == 0, f"keel exited {p.returncode}\n{err}")
    check(b"keel-guest: ready" in p.stdout, "the guest never got ready")
    m = re.search(r"digest=([0-9a-f]{64}) icount=(\d+)", err)
    check(m, f"no --digest line: {err!r}")
    return m.group(1), int(m.group(2)), err


def test():
    digest, icount, err = boot(["--track-dirty", "2"])
    m = re.search(r"dirty rounds=(\d+) pages=(\d+) max=(\d+)", err)
    check(m, f"no dirty stats line: {err!r}")
    rounds, pages, most = (int(g) for g in m.groups())
    check(rounds == icount // 2000000, f"{rounds} rounds in {icount} instructions")
    check(pages > rounds and most > 0, f"rounds found too little: {m.group(0)}")
    plain_digest, plain_icount, _ = boot([])
    check((digest, icount) == (plain_digest, plain_icount),
          f"tracking changed the run: {digest} at {icount} vs {plain_digest} at {plain_icount}")

    p = subprocess.run([keel_path(), "run", "--track-dirty", "5", "--gdb", "1234"],
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    check(p.returncode != 0 and b"--track-dirty" in p.stderr,
          f"--track-dirty with --gdb was not refused: {p.returncode} {p.stderr!r}")
    print(f"{rounds} rounds found {pages} pages (at most {most} in one); digest {digest[:16]} "
          f"at {icount} with and without tracking")


if __name__ == "__main__":
    main(test)
