#!/usr/bin/env python3
"""Post-copy migration (docs/migrate.md, "Post-copy"): the VM runs on the
destination before all of its RAM is there, and pages it touches come
on demand.

1. the digest oracle: a deterministic guest moved with --postcopy now
   (the push throttled, so that the guest runs for seconds with pages
   missing and faults on many of them) while Linux starts init, run on
   the destination to N, has the digest of an unmigrated run to N;
2. convergence: a guest that rewrites memory faster than the throttled
   link carries, migrated with --postcopy auto, moves through post-copy;
3. the source killed mid-post-copy: the destination says the VM cannot
   continue and exits 1 at once (no hang); nothing runs anywhere;
4. the destination killed mid-post-copy: the source refuses resume while
   post-copy runs, then reports the failure and stays paused with the VM
   as it was at the handover, and resumes on request;
5. a snapshot taken on the destination mid-post-copy: it brings in the
   rest at once (the source rushes them, not at the throttled push's
   pace), the snapshot restores, and the migration completes."""
import json
import os
import tempfile
import time

from guestlib import boot_args, check, guest_files, main
from migratelib import (APPEND, FIXED, Keel, ctl_migrate, keygen, migrate, pair, running_on,
                        wait_line)
from test_clone import digest_line, wait_for_socket

N = 700_000_000


def test_oracle(tmp, key):
    base = guest_files()["rootfs"]
    with pair(tmp, "p", key, ["--disk", f"{base},overlay={tmp}/p-dst.kov", "--max-insns", str(N),
                              "--digest"], f"{base},overlay={tmp}/p-src.kov") as p:
        src, dst = p.src, p.dst
        src.expect(r"Run /init")
        rc, reply, err = migrate(p.sock, p.port, key, "--postcopy", "now", "--throttle", "20")
        check(rc == 0 and reply and reply["ok"], f"migrate: {rc} {reply} {err}")
        fig = reply["migrated"]
        pc = fig.get("postcopy")
        check(pc and pc["missing"] > 1000 and pc["sent"] == pc["missing"] and
              pc["faults"] > 0 and fig["rounds"] == 0 and fig["icount"] < N,
              f"figures: {fig}")
        check(src.wait_exit(60) == 0, f"the source did not quit: {src.stderr()}")
        check(dst.wait_exit(900) == 124, f"destination: {dst.stderr()}")
        check("post-copy complete" in dst.stderr(), f"destination: {dst.stderr()}")
        got = digest_line(dst.stderr())
        ref = p.also(Keel(boot_args(disk=f"{base},overlay={tmp}/p-ref.kov", append=APPEND,
                                    extra=FIXED + ["--max-insns", str(N), "--digest"])))
        check(ref.wait_exit(900) == 124, "the reference run did not reach N")
        want = digest_line(ref.stderr())
        check(got == want, f"post-copy at {fig['icount']}: {got} vs unmigrated {want}")
        print(f"post-copy oracle: moved at icount {fig['icount']} with {pc['missing']} pages "
              f"missing, {pc['faults']} faults (slowest {pc['slowest_fault_ms']:.1f} ms), "
              f"downtime {fig['downtime_ms']:.1f} ms; digest at {N} equal")


def test_converges(tmp, key):
    """Rewriting 32 MiB over and over against a link of one 4 MiB batch
    per 100 ms: the rounds do not shrink, and auto switches to post-copy."""
    with pair(tmp, "a", key) as p:
        src, dst = p.src, p.dst
        src.wait_ready()
        src.send("while :; do dd if=/dev/zero of=/dev/shm/x bs=1M count=32 2>/dev/null; "
                 "done &\n")
        time.sleep(1)
        rc, reply, err = migrate(p.sock, p.port, key, "--throttle", "100", "--downtime", "5")
        check(rc == 0 and reply and reply["ok"] and reply["migrated"].get("postcopy"),
              f"migrate: {rc} {reply} {err}")
        fig = reply["migrated"]
        check(src.wait_exit(60) == 0, "the source did not quit")
        out, status = dst.run("echo moved-$((6*7))")
        check("moved-42" in out, f"the destination's console: {out!r}")
        print(f"converged through post-copy after {fig['rounds']} rounds: "
              f"{fig['postcopy']['missing']} pages missing at the handover, "
              f"{fig['postcopy']['faults']} faults, total {fig['total_ms']:.0f} ms")


def test_source_killed(tmp, key):
    with pair(tmp, "s", key) as p:
        src, dst = p.src, p.dst
        src.wait_ready()
        # A slow push (64 pages per second): post-copy lasts minutes.
        proc = ctl_migrate(p.sock, p.port, key, "--postcopy", "now", "--throttle", "1000")
        wait_line(proc, "post-copy:")
        dst.expect_err(r"post-copy: runs with \d+ pages still to come")
        src.proc.kill()
        t0 = time.monotonic()
        status = dst.wait_exit(60)
        took = time.monotonic() - t0
        err = dst.stderr()
        check(status == 1 and "post-copy failed" in err and "cannot continue" in err,
              f"destination after the source died: {status} {err[-1500:]}")
        proc.communicate(timeout=30)
        print(f"source killed mid-post-copy: the destination stopped in {took:.1f} s: "
              + [l for l in err.splitlines() if "post-copy failed" in l][0])


def test_destination_killed(tmp, key):
    with pair(tmp, "d", key) as p:
        src, dst, api = p.src, p.dst, p.api
        src.wait_ready()
        proc = ctl_migrate(p.sock, p.port, key, "--postcopy", "now", "--throttle", "1000",
                           "--json")
        line = wait_line(proc, "post-copy:")
        r = api.call({"cmd": "resume"})
        check(not r["ok"] and "destination" in r["error"], f"resume mid-post-copy: {r}")
        check(api.call({"cmd": "status"})["state"] == "paused", "the source must stay paused")
        dst.proc.kill()
        out, err = proc.communicate(timeout=60)
        check(proc.returncode == 1 and "post-copy failed" in err and "resume" in err,
              f"keel ctl after the destination died: {proc.returncode} {err}")
        st = api.call({"cmd": "status"})
        check(st["state"] == "paused", f"the source after the cut: {st}")
        check(api.call({"cmd": "resume"})["ok"], "resume at the source")
        running_on(api)
        out, status = src.run("echo back-$((6*7))")
        check("back-42" in out, f"the source's console: {out!r}")
        print("destination killed mid-post-copy: the source stayed paused, then resumed")


def test_snapshot_during(tmp, key):
    with pair(tmp, "w", key) as p:
        p.src.wait_ready()
        # 64 pages a second: the push alone would take about a minute.
        proc = ctl_migrate(p.sock, p.port, key, "--postcopy", "now", "--throttle", "1000",
                           "--json")
        wait_line(proc, "post-copy:")
        # Its socket opens once the VM runs there.
        dapi = wait_for_socket(os.path.join(tmp, "w-dst.sock"), p.dst.proc)
        snap = os.path.join(tmp, "w.snap")
        t0 = time.monotonic()
        r = dapi.call({"cmd": "snapshot", "path": snap})
        took = time.monotonic() - t0
        check(r["ok"] and took < 30, f"snapshot mid-post-copy: {r} after {took:.1f} s")
        out, err = proc.communicate(timeout=60)
        reply = json.loads(out)
        check(proc.returncode == 0 and reply["ok"] and reply["migrated"]["postcopy"],
              f"migrate: {proc.returncode} {out} {err}")
        snap_vm = p.also(Keel(["--restore", snap, "--idle-sleep", "off", "-m", "256M"]))
        out, status = snap_vm.run("echo restored-ok")
        check("restored-ok" in out, f"the snapshot taken mid-post-copy: {out!r}")
        print(f"snapshot mid-post-copy: all pages in {took:.1f} s "
              f"({reply['migrated']['postcopy']['missing']} were missing), restored")


def test():
    with tempfile.TemporaryDirectory() as tmp:
        key = keygen(tmp, "k.key")
        test_source_killed(tmp, key)
        test_destination_killed(tmp, key)
        test_snapshot_during(tmp, key)
        test_oracle(tmp, key)
        test_converges(tmp, key)


if __name__ == "__main__":
    main(test)
