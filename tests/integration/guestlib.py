"""Driving a keel guest over its console, for the integration tests.

A Guest starts `keel run` with the console on pipes, collects everything
the guest prints, and lets a test wait for text and type commands.  Every
wait has a timeout so a hung guest fails the test instead of the suite.
"""
import os
import re
import select
import shutil
import subprocess
import struct
import sys
import time

READY_MARKER = "keel-guest: ready"
PROMPT = "# "


def keel_path():
    return os.environ.get("KEEL", os.path.join(os.path.dirname(__file__), "../../build/keel"))


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))


def guest_dir():
    """The default guest's build directory: $KEEL_GUEST_DIR, else what
    guest/build prints (building it first if needed, with progress)."""
    d = os.environ.get("KEEL_GUEST_DIR")
    if not d:
        d = subprocess.run([os.path.join(REPO, "guest/build")], check=True,
                           stdout=subprocess.PIPE, text=True).stdout.strip()
    return d


def guest_files():
    d = guest_dir()
    return {"kernel": os.path.join(d, "Image"), "initrd": os.path.join(d, "initramfs.cpio.gz"),
            "rootfs": os.path.join(d, "rootfs.ext4")}


def boot_args(disk=None, net=None, append="console=ttyS0", extra=()):
    """keel run arguments for the default guest, with the idle time skipped
    so tests do not wait on wall-clock timers."""
    f = guest_files()
    args = ["--kernel", f["kernel"], "--initrd", f["initrd"], "--append", append,
            "--disk", disk or "none", "--idle-sleep", "off"]
    if net:
        args += ["--net", net]
    return args + list(extra)


class GuestError(Exception):
    pass


class Guest:
    def __init__(self, args, timeout=300, command=None):
        """Start `keel run ARGS`, or `command` (a full argv, e.g. QEMU for
        the benchmarks) when given."""
        self.cmd = list(command) if command else [keel_path(), "run"] + list(args)
        self.output = b""
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.default_timeout = timeout

    def text(self):
        return self.output.decode("utf-8", "replace")

    def _read_some(self, wait):
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            return False
        chunk = os.read(fd, 65536)
        if not chunk:
            return None  # EOF
        self.output += chunk
        return True

    def expect(self, pattern, timeout=None, start=0):
        """Wait until `pattern` (a regex) appears in the output after
        offset `start`; return the match."""
        deadline = time.monotonic() + (timeout or self.default_timeout)
        regex = re.compile(pattern)
        while True:
            m = regex.search(self.text(), start)
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise GuestError(f"timed out waiting for {pattern!r}\n--- output tail ---\n"
                                 + self.text()[-3000:])
            got = self._read_some(min(left, 1.0))
            if got is None:
                m = regex.search(self.text(), start)
                if m:
                    return m
                raise GuestError(f"keel exited (status {self.proc.wait()}) before {pattern!r}\n"
                                 f"--- stderr ---\n{self.proc.stderr.read().decode()}\n"
                                 f"--- output tail ---\n{self.text()[-3000:]}")

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def run(self, command, timeout=None):
        """Type a shell command and return what it printed.  The command's
        output is delimited by a marker echoed after it."""
        marker = f"__done_{time.monotonic_ns()}__"
        start = len(self.text())
        self.send(f"{command}; echo {marker[:6]}''{marker[6:]} $?\n")
        m = self.expect(re.escape(marker) + r" (\d+)", timeout, start)
        out = self.text()[start:m.start()].replace("\r", "")
        # drop the echoed command line (and a prompt or newline that came
        # before it): up to the end of the line holding the marker's echo,
        # whose quotes keep it from matching the marker itself
        echo = out.find(f"{marker[:6]}''{marker[6:]}")
        out = out[echo:] if echo >= 0 else out
        out = out.split("\n", 1)[1] if "\n" in out else ""
        return out, int(m.group(1))

    def wait_ready(self, timeout=None):
        self.expect(re.escape(READY_MARKER), timeout)

    def wait_exit(self, timeout=60):
        deadline = time.monotonic() + timeout
        try:
            while self._read_some(1.0) is not None and time.monotonic() < deadline:
                pass
            return self.proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()
            raise GuestError("keel did not exit")

    def power_off(self, timeout=120):
        """`poweroff -f` at the shell; fail unless keel then exits 0."""
        self.send("poweroff -f\n")
        status = self.wait_exit(timeout)
        if status != 0:
            raise GuestError(f"exit status {status} after poweroff\n{self.stderr()}")

    def stderr(self):
        return self.proc.stderr.read().decode("utf-8", "replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def boot_disk_and(disk, commands):
    """Boot the default guest from `disk` (a --disk argument), check it
    runs from the disk, run `commands` in it, then sync and power off.
    Returns the commands' (output, status) pairs and keel's stderr."""
    g = Guest(boot_args(disk=disk, append="console=ttyS0 keel.net=off"))
    try:
        g.wait_ready()
        out, _ = g.run("cat /etc/keel-root")
        check("disk" in out, f"not running from the disk: {out!r}")
        results = [g.run(c) for c in commands]
        g.send("sync; poweroff -f\n")
        status = g.wait_exit(120)
        err = g.stderr()
        check(status == 0, f"keel exited {status}\n{err}")
        return results, err
    finally:
        g.kill()


def wfi_image(path):
    """A RISC-V Linux "Image" whose code is `wfi; j .-4`: something the
    virt board boots (as firmware or kernel) without a guest build."""
    hdr = bytearray(64)
    struct.pack_into("<I", hdr, 0, 0x0400006F)  # j +64, over the header
    struct.pack_into("<I", hdr, 0x38, 0x05435352)  # "RSC\x05"
    with open(path, "wb") as f:
        f.write(bytes(hdr) + struct.pack("<II", 0x10500073, 0xFFDFF06F))


def tampered_copy(log, copy):
    """A copy of the recorded log at `copy` with one bit flipped in the
    middle of its first segment: what a log verifier must refuse."""
    shutil.copytree(log, copy)
    seg = os.path.join(copy, "seg-000000.klog")
    with open(seg, "r+b") as f:
        f.seek(os.path.getsize(seg) // 2)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0x40]))
    return copy


def check(cond, message):
    if not cond:
        raise GuestError(message)


def main(test):
    """Run `test()` and print one closing line; exit non-zero on failure."""
    try:
        test()
    except GuestError as e:
        print(f"FAIL: {e}")
        sys.exit(1)
    print("PASS")
