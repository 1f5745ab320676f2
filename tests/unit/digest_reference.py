#!/usr/bin/env python3
"""The state digest, version 4, computed from docs/snapshot-format.md
("State digest") alone, in Python: an implementation that shares no code
with src/vm/state_digest.c.

  digest_reference.py SNAPSHOT            print the snapshot's v4 digest
  digest_reference.py SNAPSHOT DIGEST     exit 1 unless it is DIGEST's line

The unit suite runs the second form on tests/data/virt-v1.snap against
virt-v1.digest-v4, which test_snapshot's test_old_snapshot_loads also
checks the C digest against, so the definition, the docs and the code
agree.  RAM sections are decompressed with the zstd command."""
import hashlib
import struct
import subprocess
import sys

GROUP = 64  # pages under one group hash


def h(data):
    return hashlib.blake2b(data, digest_size=32).digest()


def le64(v):
    return struct.pack("<Q", v)


def sections(buf):
    """(tag, the section with its 20-byte header, its payload)"""
    if buf[:8] != b"KEELSNAP":
        sys.exit("digest_reference: not a keel snapshot")
    off = 16  # magic, format version, flags
    while off < len(buf):
        n = struct.unpack_from("<Q", buf, off + 12)[0]
        yield buf[off:off + 4].decode(), buf[off:off + 20 + n], buf[off + 20:off + 20 + n]
        off += 20 + n


def ram_pages(payload):
    """(number of pages, {index: bytes} of the pages that are not zero)"""
    _, npages = struct.unpack_from("<IQ", payload, 0)
    bitmap = payload[12:12 + (npages + 7) // 8]
    off = 12 + len(bitmap)
    _, clen = struct.unpack_from("<QQ", payload, off)
    data = subprocess.run(["zstd", "-dc"], input=payload[off + 16:off + 16 + clen],
                          capture_output=True, check=True).stdout
    pages, k = {}, 0
    for i in range(npages):
        if bitmap[i // 8] >> (i % 8) & 1:
            pages[i] = data[k * 4096:(k + 1) * 4096]
            k += 1
    return npages, pages


def digest_v4(buf):
    s, boot, d, npages, pages = b"", b"", b"", 0, {}
    for tag, whole, payload in sections(buf):
        if tag == "BOOT":
            boot = payload[8:8 + struct.unpack_from("<Q", payload, 0)[0]]
        elif tag == "DISK":
            d = payload[:50]  # kind, read-only, size, base hash, L
        elif tag == "RAM " and struct.unpack_from("<I", whole, 4)[0] == 2:
            # version 2: RAM is the BOOT image, named by its hash
            if payload != h(boot):
                sys.exit("digest_reference: RAM names another image than BOOT's")
            npages, pages = ram_pages(boot)
        elif tag == "RAM ":
            npages, pages = ram_pages(payload)
        elif tag != "SUM ":
            s += whole
    h_ram = b""
    for g in range((npages + GROUP - 1) // GROUP):
        entries = b"".join(le64(i) + hashlib.sha256(pages[i]).digest()
                           for i in range(GROUP * g, min(GROUP * (g + 1), npages))
                           if any(pages.get(i, b"")))
        if entries:
            h_ram += le64(g) + h(entries)
    return h(b"keel state digest v4\0" + le64(len(s)) + s + le64(len(boot)) + h(boot)
             + le64(len(d)) + d + le64(npages * 4096) + h(h_ram)).hex()


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as f:
        got = digest_v4(f.read())
    if len(sys.argv) == 2:
        print(got)
        return
    with open(sys.argv[2]) as f:
        want = f.readline().strip()
    if got != want:
        sys.exit(f"digest_reference: {sys.argv[1]}: v4 digest {got}, {sys.argv[2]} says {want}")
    print(f"{sys.argv[1]}: v4 digest {got} as {sys.argv[2]} says")


if __name__ == "__main__":
    main()
