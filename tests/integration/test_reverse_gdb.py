#!/usr/bin/env python3
"""Reverse debugging over a recording (`keel replay LOG --gdb PORT`,
docs/replay.md): record a short session of the default guest (boot, a
command typed on the console, poweroff), then drive gdb-multiarch with the
guest kernel's vmlinux against the replay:

  - a breakpoint on vfs_write, continue twice, reverse-continue: back at
    the first hit, at the same icount with the same registers;
  - reverse-stepi: exactly one instruction earlier (icount - 1); stepi
    again: the first hit's registers once more;
  - a second gdb session goes straight forward to that icount from the
    start of the recording (`monitor seek N`, no backward move): every
    general register equals what reverse-stepi showed;
  - a third puts a write watchpoint on jiffies after the first vfs_write:
    continue twice stops right after each of two writes (gdb shows old and
    new values), reverse-continue twice stops right before each of them
    (one instruction earlier, the value before the write), and continue
    from there stops after the first write again.

Each session must end with keel's exit, and nothing is left running."""
import os
import re
import subprocess
import tempfile

from guestlib import Guest, boot_args, check, guest_dir, guest_files, keel_path, main

BREAK = "vfs_write"


def record(tmp):
    log = os.path.join(tmp, "log")
    disk = f"{guest_files()['rootfs']},overlay={os.path.join(tmp, 'disk.kov')}"
    g = Guest([], command=[keel_path(), "record", "--log", log, "--checkpoint-every",
                           "20000000"] + boot_args(disk=disk))
    try:
        g.wait_ready()
        out, rc = g.run("echo reverse-$((6*7))")
        check("reverse-42" in out, f"shell: {out!r}")
        g.send("poweroff -f\n")
        check(g.wait_exit(120) == 0, f"record exit: {g.stderr()}")
    finally:
        g.kill()
    return log


def gdb_session(log, commands):
    """Serve the log to gdb once; gdb runs `commands` in batch mode.
    Returns gdb's output."""
    keel = subprocess.Popen([keel_path(), "replay", log, "--gdb", "0", "--gdb-snapshot-every",
                             "5000000"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        port = None
        lines = []
        while port is None:
            line = keel.stderr.readline()
            check(line != "", f"keel replay --gdb ended before listening: {''.join(lines)}")
            lines.append(line)
            m = re.search(r"waiting for gdb on 127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
        vmlinux = os.path.join(guest_dir(), "vmlinux")
        args = ["gdb-multiarch", "-nx", "-batch", "-ex", "set pagination off",
                "-ex", f"file {vmlinux}", "-ex", f"target remote 127.0.0.1:{port}"]
        for c in commands:
            args += ["-ex", c]
        args += ["-ex", "kill"]
        p = subprocess.run(args, capture_output=True, text=True, timeout=600)
        rest = keel.stderr.read()
        check(keel.wait(timeout=60) == 0, f"keel replay --gdb: {''.join(lines)}{rest}")
        return p.stdout + p.stderr
    finally:
        if keel.poll() is None:
            keel.kill()
            keel.wait()


def values(out):
    """Every `print` result: the jiffies read at each stop."""
    return [int(x) for x in re.findall(r"^\$\d+ = (-?\d+)$", out, re.M)]


def check_watchpoints(log):
    jiffies = "*(long *)&jiffies"
    out = gdb_session(log, [
        f"break {BREAK}", "continue", "delete",
        f"watch -l {jiffies}",
        "continue", "monitor icount", f"print {jiffies}",
        "continue", "monitor icount", f"print {jiffies}",
        "reverse-continue", "monitor icount", f"print {jiffies}",
        "reverse-continue", "monitor icount", f"print {jiffies}",
        "continue", "monitor icount", f"print {jiffies}",
    ])
    counts, vals = icounts(out), values(out)
    check(len(counts) == 5 and len(vals) == 5, f"gdb watch session:\n{out[-3000:]}")
    after1, after2, before2, before1, again = counts
    v1, v2, vb2, vb1, va = vals
    check(out.count("Old value") == 5, f"gdb did not report five watchpoint stops:\n{out[-3000:]}")
    check(after1 < after2 and v2 != v1, f"two writes: icounts {after1}, {after2}, values {v1}, {v2}")
    check(before2 == after2 - 1 and vb2 == v1,
          f"reverse-continue from {after2} went to {before2} (jiffies {vb2}); "
          f"want {after2 - 1} and {v1}")
    check(before1 == after1 - 1 and vb1 != v1,
          f"second reverse-continue went to {before1} (jiffies {vb1}); want {after1 - 1}")
    check(again == after1 and va == v1, f"continue went to {again} (jiffies {va}); "
          f"want {after1} and {v1}")
    print(f"watch jiffies: writes retire at icount {after1 - 1} and {after2 - 1}; reverse-continue "
          f"stops before each, continue after")


def icounts(out):
    return [int(x) for x in re.findall(r"^(\d+)$", out, re.M)]


def registers(out):
    """Every `info registers` block: {name: value} each."""
    blocks, cur = [], None
    for line in out.splitlines():
        m = re.match(r"^(ra|sp|gp|tp|t[0-6]|s[0-9]|s1[01]|a[0-7]|pc|fp|zero)\s+(0x[0-9a-f]+)",
                     line)
        if m:
            if cur is None or m.group(1) in cur:
                cur = {}
                blocks.append(cur)
            cur[m.group(1)] = m.group(2)
        elif line.startswith("--regs-end--"):
            cur = None
    return blocks


def test():
    with tempfile.TemporaryDirectory() as tmp:
        log = record(tmp)
        out = gdb_session(log, [
            f"break {BREAK}",
            "continue", "monitor icount", "info registers", "echo --regs-end--\\n",
            "continue", "monitor icount",
            "reverse-continue", "monitor icount", "info registers", "echo --regs-end--\\n",
            "reverse-stepi", "monitor icount", "info registers", "echo --regs-end--\\n",
            "stepi", "monitor icount", "info registers", "echo --regs-end--\\n",
        ])
        counts, regs = icounts(out), registers(out)
        check(len(counts) == 5 and len(regs) == 4, f"gdb session 1:\n{out[-3000:]}")
        first, second, back, before, again = counts
        check(second > first, f"the second hit ({second}) is not after the first ({first})")
        check(back == first, f"reverse-continue went to {back}, the first hit was at {first}")
        check(regs[1] == regs[0], f"registers after reverse-continue differ:\n{regs[0]}\n{regs[1]}")
        check(before == first - 1, f"reverse-stepi went from {first} to {before}")
        check(regs[2]["pc"] != regs[0]["pc"], "reverse-stepi did not move pc")
        check(again == first and regs[3] == regs[0],
              f"stepi after reverse-stepi: icount {again}, registers {regs[3]}")
        check(f"Breakpoint 1, {BREAK}" in out or f"in {BREAK}" in out,
              f"gdb did not report the breakpoint in {BREAK}")
        print(f"{BREAK}: hits at icount {first} and {second}; reverse-continue back to {back}; "
              f"reverse-stepi to {before}")

        # gdb does not know that a monitor command moved the target: drop
        # the registers it cached when it connected.
        out2 = gdb_session(log, [f"monitor seek {before}", "maintenance flush register-cache",
                                 "monitor icount", "info registers",
                                 "echo --regs-end--\\n"])
        regs2 = registers(out2)
        check(icounts(out2)[-1:] == [before] and len(regs2) == 1,
              f"gdb session 2:\n{out2[-2000:]}")
        check(regs2[0] == regs[2], f"a forward run to {before} differs from reverse-stepi:\n"
              f"{regs2[0]}\n{regs[2]}")
        print(f"a forward run to {before} has the registers reverse-stepi showed")
        check_watchpoints(log)


if __name__ == "__main__":
    main(test)
