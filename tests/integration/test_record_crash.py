#!/usr/bin/env python3
"""Crash safety (docs/log-format.md, "Crash safety"): kill -9 a recording
keel while the guest is busy.  `keel log verify` must report the log as
valid up to its last seal and not as valid overall (exit 2), and `keel
replay` must run to the end of the verified part with every checkpoint
matching, its console output a prefix of what the recording printed."""
import os
import re
import signal
import subprocess
import tempfile
import time

from guestlib import Guest, boot_args, check, keel_path, main


def keel(*args, timeout=600):
    p = subprocess.run([keel_path(), *args], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def test():
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log")
        g = Guest([], command=[keel_path(), "record", "--log", log, "--checkpoint-every",
                               "10000000", "--seal-interval", "1"]
                  + boot_args(append="console=ttyS0 keel.net=off"))
        try:
            g.wait_ready()
            g.send("while true; do head -c 64 /dev/hwrng | md5sum; done\n")
            g.expect(r"[0-9a-f]{32}  -")
            time.sleep(3)  # several seals while busy
            g.proc.send_signal(signal.SIGKILL)
            g.proc.wait()
            g._read_some(0.1)
        finally:
            g.kill()
        recorded = g.output
        rc, out, err = keel("log", "verify", log)
        out = out.decode()
        check(rc == 2, f"verify after kill -9: exit {rc}: {out} {err}")
        check("VALID" not in out.split(":")[1], f"verify calls a crashed log valid: {out}")
        rc, out, err = keel("replay", log)
        check(rc == 0, f"replay after kill -9: exit {rc}: {err[-1500:]}")
        m = re.search(r"(\d+) checkpoints matched", err)
        check(m and int(m.group(1)) > 0, f"no checkpoint checked: {err}")
        check(len(out) > 0 and recorded.startswith(out),
              f"replayed console ({len(out)} bytes) is not a prefix of the recorded "
              f"({len(recorded)} bytes)")
        print(f"verify: exit 2; replay: {err.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main(test)
