#!/usr/bin/env python3
"""Guest time against wall time with keel's default pacing (docs/board.md,
"Time"): the guest's clock never runs ahead of wall time, and catch-up
keeps it from falling far behind.

- busy: the nominal rate (1000 MIPS) is above what the interpreter
  reaches, so a busy guest's clock lags and catch-up moves it to wall
  time.  At a nominal rate below the interpreter's it ran ahead, and keel
  slept the lead off at the next idle moment.
- idle with user networking: libslirp cuts every idle sleep short to run
  its own timers; such a wake-up must move time to now, not to the
  guest's next deadline (which put an idle guest seconds ahead).

The guest reads /proc/uptime twice; the host brackets each read.  Guest
time between the reads may not exceed the widest wall-clock interval
around them plus SLACK_S, and must reach half of the narrowest (catch-up
keeps a busy guest within 20 ms of wall time while keel runs; half leaves
room for a host that hardly lets it run).  The old nominal rate ran
ahead by 2 s here, the idle skips by 4 s."""
import re
import time

from guestlib import Guest, boot_args, check, free_port, main

# Catch-up acts at slice ends, so a guest that reads its clock just after
# the host descheduled keel lags by that stall; a later read without one
# then looks ahead of wall time by as much.  Generous for a loaded host.
SLACK_S = 0.5
BUSY = "dd if=/dev/zero bs=1M count=6 2>/dev/null | sha256sum >/dev/null"
IDLE_S = 6


def timed_uptime(g):
    """(host time before, guest uptime, host time after)."""
    before = time.monotonic()
    out, rc = g.run("cat /proc/uptime")
    after = time.monotonic()
    m = re.search(r"^([0-9.]+) [0-9.]+$", out, re.M)
    check(rc == 0 and m, f"cat /proc/uptime: {out!r}")
    return before, float(m.group(1)), after


def check_pace(g, what, between):
    b0, u0, a0 = timed_uptime(g)
    between()
    b1, u1, a1 = timed_uptime(g)
    guest, widest, narrowest = u1 - u0, a1 - b0, b1 - a0
    print(f"{what}: guest {guest:.2f} s, wall {narrowest:.2f}-{widest:.2f} s", flush=True)
    check(guest <= widest + SLACK_S,
          f"{what}: the guest's clock ran ahead of wall time: {guest:.2f} s of guest time "
          f"in at most {widest:.2f} s")
    check(guest >= narrowest / 2,
          f"{what}: the guest's clock fell behind: {guest:.2f} s of guest time "
          f"in at least {narrowest:.2f} s")


def test():
    args = boot_args(net=f"user,hostfwd=tcp:127.0.0.1:{free_port()}-:80")
    args[args.index("--idle-sleep") + 1] = "on"  # keel's default, unlike other tests
    g = Guest(args)
    try:
        g.wait_ready()
        check_pace(g, "busy", lambda: g.run(BUSY, timeout=300))
        check_pace(g, "idle", lambda: time.sleep(IDLE_S))
        g.power_off()
    finally:
        g.kill()


if __name__ == "__main__":
    main(test)
