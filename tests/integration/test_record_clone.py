#!/usr/bin/env python3
"""A clone of a VM being recorded (docs/clone.md, docs/replay.md): the log
belongs to the parent.  Record with --api-sock, clone the VM while it is
recorded, type into the clone and let it run past a checkpoint, quit it,
then finish the parent.  The parent's log must verify as VALID and replay
to the parent's exact console output: nothing of the clone's reaches it,
and the clone neither stops at the parent's checkpoints nor touches the
seal key."""
import os
import subprocess
import tempfile

from guestlib import Guest, boot_args, check, keel_path, main
from test_api import Client
from test_clone import Clone, wait_for_socket

APPEND = "console=ttyS0 keel.net=off"


def keel(*args):
    p = subprocess.run([keel_path(), *args], capture_output=True, timeout=600)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def test():
    with tempfile.TemporaryDirectory() as tmp:
        log, sock = os.path.join(tmp, "log"), os.path.join(tmp, "api.sock")
        seal, verify = os.path.join(tmp, "seal.key"), os.path.join(tmp, "verify.key")
        rc, _, err = keel("log", "keygen", "--seal-key", seal, "--verify-key", verify)
        check(rc == 0, f"keygen: {err}")
        g = Guest([], command=[keel_path(), "record", "--log", log, "--seal-key", seal,
                               "--checkpoint-every", "20000000", "--api-sock", sock]
                  + boot_args(append=APPEND))
        try:
            api = wait_for_socket(sock, g.proc)
            g.wait_ready()
            g.run("echo parent-before")
            console = os.path.join(tmp, "clone.console")
            c = Clone(api.call({"cmd": "clone", "sock": os.path.join(tmp, "c.sock"),
                                "console": console}), console)
            for i in range(3):  # clone input, and time past a checkpoint
                out, rc = c.run(f"echo clone-{i}; i=0; while [ $i -lt 3000 ]; do "
                                "i=$((i+1)); done")
                check(f"clone-{i}" in out, f"clone: {out!r}")
            c.quit()
            text = c.text()
            check("keel record" not in text and "recording" not in text,
                  f"the clone touched the parent's recording: {text[-600:]!r}")
            out, rc = g.run("echo parent-after")
            check("parent-after" in out, f"parent after the clone: {out!r}")
            g.send("poweroff -f\n")
            check(g.wait_exit(120) == 0, f"parent: {g.stderr()}")
        finally:
            g.kill()
        rc, out, err = keel("log", "verify", log, "--key", verify)
        check(rc == 0, f"verify after a clone: exit {rc}: {out} {err}")
        rc, out, err = keel("replay", log, "--key", verify)
        check(rc == 0, f"replay: exit {rc}: {err[-1500:]}")
        check(out == g.output, "replayed console differs from the parent's")
        check(b"clone-0" not in out, "the clone's console output is in the parent's replay")
        print(err.strip().splitlines()[-1])


if __name__ == "__main__":
    main(test)
