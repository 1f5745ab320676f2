#!/usr/bin/env python3
"""The JIT (docs/cpu.md, "The JIT") changes nothing the guest, the state
digest or a log can see.

1. A Linux boot from the ext4 disk to instruction count N with every block
   translated at its first entry (--jit on --jit-threshold 0) reaches the
   same state digest and prints the same console output as one with
   --no-decode-cache, the plainest interpreter.  The digest covers
   registers, CSRs, device state and all of RAM.  Both guests: the default
   one, and Debian's own kernel and initramfs on the Debian guest's disk
   (guest/build --debian, which make test builds).
2. A session recorded with the JIT replays with --no-decode-cache, and one
   recorded without it replays with it: every checkpoint digest matches and
   the console output is the recorded one."""
import concurrent.futures
import os
import re
import shutil
import subprocess
import tempfile

import debianlib
from guestlib import Guest, boot_args, check, guest_files, keel_path, main

N = 200_000_000
SEEDS = ["--entropy-seed", "7", "--rtc-epoch", "1790000000"]
FIXED = SEEDS + ["-m", "256M"]
APPEND = "console=ttyS0 keel.net=off"
JIT_ALL = ["--jit", "on", "--jit-threshold", "0"]


def keel(*args, timeout=900):
    p = subprocess.run([keel_path(), *args], capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def default_guest(tmp, name):
    disk = os.path.join(tmp, name)
    shutil.copyfile(guest_files()["rootfs"], disk)
    return boot_args(disk=disk, append=APPEND, extra=FIXED)


def debian_guest(tmp, name):
    """Debian's kernel and initramfs, its disk under a fresh overlay, no
    network, idle time skipped rather than slept (a guest that idles
    would otherwise see wall time pass): nothing from the host but the
    seeded entropy and clock."""
    return debianlib.boot_args(debianlib.debian_dir(), os.path.join(tmp, name + ".kov"),
                               net="none", extra=["--idle-sleep", "off"] + SEEDS)


def run_to_n(tmp, name, extra, guest=default_guest):
    args = guest(tmp, name) + ["--max-insns", str(N), "--digest", "--stats"] + extra
    rc, out, err = keel("run", *args)
    check(rc == 124, f"keel {' '.join(extra)}: exit {rc}\n{err}")
    m = re.search(r"digest=([0-9a-f]{64}) icount=(\d+)", err)
    check(m, f"no digest line in: {err!r}")
    check(int(m.group(2)) == N, f"stopped at {m.group(2)}, not {N}")
    return m.group(1), out, err


def check_boot(tmp, guest=default_guest, reached=r"keel-guest: ready"):
    """reached: what the plain run's console and stderr must show by N, so
    that the comparison covers the kernel running, not only firmware."""
    name = guest.__name__
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        jit = pool.submit(run_to_n, tmp, name + "-a.img", JIT_ALL, guest)
        plain = pool.submit(run_to_n, tmp, name + "-b.img", ["--no-decode-cache"], guest)
        (d_jit, out_jit, err_jit), (d_plain, out_plain, err_plain) = jit.result(), plain.result()
    stats = re.search(r"jit blocks=(\d+) code_bytes=(\d+)", err_jit)
    check(stats and int(stats.group(1)) > 1000, f"the JIT translated too little: {err_jit}")
    check(re.search(reached, out_plain.decode("utf-8", "replace") + err_plain),
          f"{name}: {reached!r} not seen by N instructions")
    check(out_jit == out_plain, f"{name}: console output differs with the JIT and without blocks")
    check(d_jit == d_plain, f"{name}: digest with the JIT {d_jit} != without blocks {d_plain}")
    print(f"{name}: digest at {N}: {d_jit} with every block translated ({stats.group(0)}) and "
          f"with --no-decode-cache")


def record(tmp, name, key, extra):
    log = os.path.join(tmp, name)
    # the root disk under a fresh overlay, which the first checkpoint
    # freezes and replay reads (as test_record_replay)
    disk = f"{guest_files()['rootfs']},overlay={os.path.join(tmp, name + '.kov')}"
    g = Guest([], command=[keel_path(), "record", "--log", log, "--seal-key", key,
                           "--checkpoint-every", "20000000"] + extra +
              boot_args(disk=disk, append=APPEND))
    try:
        g.wait_ready()
        out, rc = g.run("echo jit-$((6*7)); ls /bin | wc -l")
        check("jit-42" in out, f"shell: {out!r}")
        g.send("poweroff -f\n")
        check(g.wait_exit(120) == 0, f"record exit: {g.stderr()}")
        return log, g.output
    finally:
        g.kill()


def check_replay(log, key, recorded, extra):
    rc, out, err = keel("replay", log, "--key", key, *extra)
    check(rc == 0, f"replay {' '.join(extra)}: exit {rc}: {err[-2000:]}")
    m = re.search(r"(\d+) checkpoints matched", err)
    check(m and int(m.group(1)) > 1, f"replay {' '.join(extra)}: {err[-500:]}")
    check(out == recorded, f"replay {' '.join(extra)}: console output differs")
    return m.group(0)


def check_record_replay(tmp):
    seal, verify = os.path.join(tmp, "seal.key"), os.path.join(tmp, "verify.key")
    rc, _, err = keel("log", "keygen", "--seal-key", seal, "--verify-key", verify)
    check(rc == 0, f"keygen: {err}")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        with_jit = pool.submit(record, tmp, "jit.log", seal, JIT_ALL)
        without = pool.submit(record, tmp, "plain.log", seal, ["--jit", "off"])
        (log_jit, out_jit), (log_plain, out_plain) = with_jit.result(), without.result()
        a = pool.submit(check_replay, log_jit, verify, out_jit, ["--no-decode-cache"])
        b = pool.submit(check_replay, log_plain, verify, out_plain, JIT_ALL)
        print(f"recorded with the JIT, replayed without blocks: {a.result()}; "
              f"recorded without the JIT, replayed with it: {b.result()}")


def test():
    with tempfile.TemporaryDirectory() as tmp:
        check_boot(tmp)
        # Debian's kernel has no early console: by N it prints nothing yet,
        # but it runs from its own page tables (the pc keel stopped at)
        check_boot(tmp, debian_guest, r"stopped after .* \(pc=0xffffffff8")
        check_record_replay(tmp)


if __name__ == "__main__":
    main(test)
