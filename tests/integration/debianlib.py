"""The Debian guest (guest/build --debian, docs/guest.md) for the
integration tests: where its build is, how keel boots it, logging in on
its console, ssh with the key the build generated, HTTP to its nginx."""
import os
import re
import subprocess
import urllib.request

from guestlib import REPO, Guest, GuestError, check, free_port

# agetty's issue line names the terminal: the prompt on the UART, keel's
# console (the image masks the getty on virtio-console's hvc0, whose
# output would share keel's stdout).
LOGIN = r"keel-debian ttyS0\s+keel-debian login: "
PROMPT = r"root@keel-debian:[^\r\n]*# "
# Units allowed to fail, each explained in docs/guest.md ("The Debian
# guest", failed units); none may be keel's fault.
ALLOWED_FAILED = set()


def debian_dir():
    """$KEEL_DEBIAN_DIR, else the build guest/build --debian would use; it
    must be complete (its `done` stamp), or the test fails saying how to
    build it."""
    d = os.environ.get("KEEL_DEBIAN_DIR")
    if not d:
        d = subprocess.run([os.path.join(REPO, "guest/build"), "--debian", "--print-path"],
                           check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    check(os.path.isfile(os.path.join(d, "done")),
          f"the Debian guest is not built at {d}: run guest/build --debian (make test-debian)")
    return d


def files(d):
    return {name: os.path.join(d, name) for name in
            ("Image", "initrd.img", "rootfs.ext4", "id_ed25519", "known_hosts", "cmdline")}


def boot_args(d, overlay, ssh_port=None, http_port=None, extra=(), net="user"):
    """keel run arguments for the Debian guest on an overlay over its disk;
    net "none" for a card with nothing behind it (no ports then)."""
    f = files(d)
    with open(f["cmdline"]) as c:
        append = c.read().strip()
    if ssh_port:
        net += f",hostfwd=tcp:127.0.0.1:{ssh_port}-:22"
    if http_port:
        net += f",hostfwd=tcp:127.0.0.1:{http_port}-:80"
    return ["--kernel", f["Image"], "--initrd", f["initrd.img"], "--append", append,
            "-m", "1G", "--disk", f"{f['rootfs.ext4']},overlay={overlay}",
            "--net", net] + list(extra)


def login(g, timeout=1500):
    """Wait for the console's login prompt and log in as root (no
    password); return when the shell prompt shows."""
    g.expect(LOGIN, timeout)
    start = len(g.text())
    g.send("root\n")
    g.expect(PROMPT, 120, start)
    # A serial line has no size: bash would wrap long commands at 80
    # columns, and Guest.run() expects the echo on one line.  Bracketed
    # paste would wrap every output in escape sequences.
    start = len(g.text())
    g.send("stty cols 1000; bind 'set enable-bracketed-paste off'\n")
    g.expect(PROMPT, 120, start)


def system_state(g):
    """`systemctl is-system-running --wait`; running, or degraded with only
    the allowed units failed."""
    out, _ = g.run("systemctl is-system-running --wait", timeout=900)
    m = re.search(r"\b(initializing|starting|running|degraded|maintenance|stopping|offline)\b",
                  out)
    state = m.group(1) if m else out
    failed, _ = g.run("systemctl --failed --no-legend --plain | cut -d' ' -f1")
    units = set(re.findall(r"[\w@.\\-]+\.(?:service|socket|mount|target|timer|path|device|"
                           r"scope|slice|swap|automount)\b", failed))
    check(state == "running" or (state == "degraded" and units <= ALLOWED_FAILED),
          f"systemctl is-system-running: {state!r}, failed units: {sorted(units)}")
    return state


def ssh(d, port, command, timeout=300):
    """Run `command` in the guest over ssh with the generated key, checking
    the guest's host key against the build's known_hosts (no prompt)."""
    f = files(d)
    p = subprocess.run(["ssh", "-p", str(port), "-i", f["id_ed25519"],
                        "-o", f"UserKnownHostsFile={f['known_hosts']}",
                        "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
                        "-o", "ConnectTimeout=60", "root@127.0.0.1", command],
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    check(p.returncode == 0, f"ssh {command!r}: exit {p.returncode}: {p.stderr[-1000:]}")
    return p.stdout


def http_get(port, path="/", timeout=120):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        check(r.status == 200, f"HTTP {r.status}")
        return r.read().decode("utf-8", "replace")


def poweroff(g, timeout=600):
    """`poweroff` at the root shell: systemd stops everything and keel
    must exit 0."""
    g.send("poweroff\n")
    status = g.wait_exit(timeout)
    check(status == 0, f"keel exited {status} after poweroff\n{g.stderr()[-2000:]}")
