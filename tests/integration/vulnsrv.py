"""The deliberately vulnerable service (tests/guest/vulnsrv.c) in a guest:
cross-compiled at test time with the guest's toolchain and appended to
the default guest's initramfs as /bin/vulnsrv, cached under a hash of its
inputs (as bench/benchlib.py does for kbench).  The guest's own build
inputs are untouched."""
import gzip
import hashlib
import os
import subprocess
import sys

from guestlib import REPO, guest_files

sys.path.insert(0, os.path.join(REPO, "bench"))
from benchlib import cpio_entry, sha256_file  # noqa: E402

SOURCE = os.path.join(REPO, "tests", "guest", "vulnsrv.c")
CROSS_CC = os.environ.get("CROSS", "riscv64-linux-gnu-") + "gcc"
# Without the stack protector and fortify, so the overflow really
# overwrites the return address (the point of the program).
CFLAGS = ["-O1", "-static", "-fno-stack-protector", "-U_FORTIFY_SOURCE", "-Wall"]
RECIPE = 1


def _key(base):
    h = hashlib.sha256()
    cc = subprocess.run([CROSS_CC, "--version"], stdout=subprocess.PIPE, text=True,
                        check=True).stdout.splitlines()[0]
    h.update(f"recipe {RECIPE}\ncc {cc}\ncflags {' '.join(CFLAGS)}\n".encode())
    h.update(f"src {sha256_file(SOURCE)}\nbase {sha256_file(base)}\n".encode())
    return h.hexdigest()[:16]


def initramfs():
    """The default guest's initramfs with /bin/vulnsrv added (built if
    missing); returns its path."""
    base = guest_files()["initrd"]
    root = os.path.join(os.environ.get("XDG_CACHE_HOME") or
                        os.path.join(os.path.expanduser("~"), ".cache"), "keel", "vulnsrv")
    d = os.path.join(root, _key(base))
    out = os.path.join(d, "initramfs.cpio.gz")
    if os.path.exists(out):
        return out
    tmp = f"{d}.tmp{os.getpid()}"
    os.makedirs(tmp, exist_ok=True)
    binary = os.path.join(tmp, "vulnsrv")
    r = subprocess.run([CROSS_CC] + CFLAGS + ["-o", binary, SOURCE], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        raise RuntimeError(f"building vulnsrv failed:\n{r.stdout}")
    with open(binary, "rb") as f:
        data = f.read()
    cpio = cpio_entry("bin/vulnsrv", 0o100755, data, 1) + cpio_entry("TRAILER!!!", 0, b"", 0)
    with open(base, "rb") as f:
        image = f.read()
    image += b"\0" * (-len(image) % 4) + gzip.compress(cpio, mtime=0)
    with open(os.path.join(tmp, "initramfs.cpio.gz"), "wb") as f:
        f.write(image)
    try:
        os.rename(tmp, d)
    except OSError:
        subprocess.run(["rm", "-rf", tmp], check=True)
    return out
