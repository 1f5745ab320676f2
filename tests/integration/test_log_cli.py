#!/usr/bin/env python3
"""`keel log keygen | verify | show` on small logs written by the hidden
`keel log selftest-write` (docs/log-format.md): exit codes, the status
line, the first bad position and the listing.  check_log_dir() is the part
meant to be pointed at a real recording too (KEEL_LOG_DIR, KEEL_LOG_KEY).

Needs no guest."""
import json
import os
import subprocess
import tempfile

from guestlib import check, keel_path, main

VALID, TAMPERED, UNSEALED, UNCHECKED, USAGE = 0, 1, 2, 3, 4


def keel(*args, timeout=60):
    p = subprocess.run([keel_path(), *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def verify_json(log, *extra):
    rc, out, err = keel("log", "verify", log, "--json", *extra)
    check(rc != USAGE, f"verify {log}: usage error: {err}")
    return rc, json.loads(out), err


def check_log_dir(log, key, status="VALID"):
    """A log verifies with `status`; show lists every record it holds and
    agrees with verify."""
    rc, rep, err = verify_json(log, "--key", key)
    check(rep["status"] == status, f"verify {log}: {rep['status']} ({rep['reason']}), "
          f"want {status}")
    check(rc == {"VALID": VALID, "TAMPERED": TAMPERED}.get(status, UNSEALED),
          f"verify {log}: exit {rc} for {status}")
    check(rep["seals_checked"] and not rep["key_from_dir"], f"verify {log}: {rep}")
    rc, out, err = keel("log", "show", log, "--json", "--key", key)
    show = json.loads(out)
    check(show["verify"]["status"] == status, f"show {log}: {show['verify']}")
    check(len(show["records"]) == show["total_records"] == rep["records"],
          f"show {log}: {len(show['records'])} listed, {rep['records']} in the log")
    check(sum(t["count"] for t in show["totals"].values()) == rep["records"],
          f"show {log}: totals {show['totals']}")
    return rep, show


def test_keygen(tmp):
    k = lambda n: os.path.join(tmp, n)
    rc, out, err = keel("log", "keygen", "--seal-key", k("seal"), "--verify-key", k("verify"),
                        "--sign-key", k("sign"), "--sign-pub", k("pub"))
    check(rc == 0, f"keygen: {rc} {err}")
    check(os.stat(k("seal")).st_mode & 0o777 == 0o600, "seal key is not mode 0600")
    seal = open(k("seal")).read()
    check(seal.startswith("keel-log-seal-key 1\nepoch 0\nkey "), f"seal key file: {seal!r}")
    check(seal.split()[-1] == open(k("verify")).read().split()[-1], "key_0 differs")
    rc, out, err = keel("log", "keygen", "--seal-key", k("seal"), "--verify-key", k("v2"))
    check(rc == 1 and "File exists" in err, f"keygen over a key: {rc} {err!r}")
    rc, out, err = keel("log", "keygen", "--seal-key", k("s3"))
    check(rc == USAGE, f"keygen without --verify-key: {rc}")


def test_valid_and_show(tmp):
    k = lambda n: os.path.join(tmp, n)
    log = k("log")
    rc, out, err = keel("log", "selftest-write", log, "--seal-key", k("seal"),
                        "--sign-key", k("sign"))
    check(rc == 0 and "24 records, 3 seals, closed" in out, f"selftest-write: {rc} {out} {err}")
    check(open(k("seal")).read().startswith("keel-log-seal-key 1\nepoch 3\n"),
          "the seal key did not ratchet to epoch 3")
    rep, show = check_log_dir(log, k("verify"))
    check(rep["seals"] == 3 and rep["verified"]["record"] == 24, f"report: {rep}")
    check(show["totals"]["net"]["count"] == 5 and show["totals"]["snapshot"]["count"] == 1,
          f"totals: {show['totals']}")
    check(show["bytes_per_hour"] is None or show["bytes_per_hour"] > 0, f"show: {show}")

    rc, out, err = keel("log", "verify", log, "--key", k("verify"), "--sign-pub", k("pub"))
    check(rc == VALID and "VALID" in out, f"verify with signatures: {rc} {out}")
    rc, out, err = keel("log", "show", log, "--limit", "3")
    check(rc == UNCHECKED and "only the hash chain" in err, f"show without key: {rc} {err}")
    check("echo hi\\n" in out and "udp" not in out and "21 more records" in out,
          f"show --limit 3:\n{out}")
    check("totals per type:" in out and "bytes on disk" in out and "verify: VALID" in out,
          f"show summary:\n{out}")
    rc, out, err = keel("log", "show", log)
    check("udp 5353 -> 53" in out and "checkpoint-1.snap blake2b" in out, f"show:\n{out}")
    rc, out, err = keel("log", "selftest-write", k("log2"), "--seal-key", k("seal"))
    check(rc == 1 and "epoch 3" in err, f"reusing a seal key: {rc} {err!r}")


def test_tampered(tmp):
    k = lambda n: os.path.join(tmp, n)
    log = k("log")
    seg = os.path.join(log, "seg-000000.klog")
    data = bytearray(open(seg, "rb").read())
    data[200] ^= 0x10  # inside the first block
    open(seg, "wb").write(data)
    rc, out, err = keel("log", "verify", log, "--key", k("verify"))
    check(rc == TAMPERED and "TAMPERED" in out and "first bad: seg-000000.klog offset 32, "
          "entry 0, record 0" in out, f"flipped byte: {rc}\n{out}")
    rc, rep, err = verify_json(log, "--key", k("verify"))
    check(rep["bad"]["offset"] == 32 and rep["verified"]["record"] == 0, f"json: {rep}")
    data[200] ^= 0x10
    open(seg, "wb").write(data)
    os.truncate(seg, len(data) - 10)
    rc, out, err = keel("log", "verify", log, "--key", k("verify"))
    check(rc == UNSEALED and "UNSEALED_TAIL" in out, f"truncated: {rc}\n{out}")
    rc, rep, err = verify_json(log, "--key", k("verify"))
    check(rep["seals"] == 2 and rep["verified"]["record"] == 19, f"truncated: {rep}")


def test_unsealed_and_dir_key(tmp):
    log = os.path.join(tmp, "nokey")
    rc, out, err = keel("log", "selftest-write", log, "--no-close")
    check(rc == 0 and "verify.key" in err and "offline" in err, f"no seal key: {rc} {err!r}")
    rc, out, err = keel("log", "verify", log)
    check(rc == UNSEALED and "UNSEALED_TAIL" in out and "sits next to the log" in err,
          f"unsealed tail with DIR/verify.key: {rc}\n{out}{err}")
    check("7 records in 1 entries after the last seal" in out, f"tail: {out}")
    rc, out, err = keel("log", "verify", "/nonexistent-keel-log")
    check(rc == TAMPERED and "No such file" in err, f"no log: {rc} {err}")
    rc, out, err = keel("log", "verify")
    check(rc == USAGE, f"verify without DIR: {rc}")
    for cmd in (["log", "--help"], ["log", "verify", "--help"], ["log", "show", "--help"],
                ["log", "keygen", "--help"]):
        rc, out, err = keel(*cmd)
        check(rc == 0 and "usage: keel log" in out, f"{cmd}: {rc}")


def test():
    if os.environ.get("KEEL_LOG_DIR"):
        check_log_dir(os.environ["KEEL_LOG_DIR"], os.environ["KEEL_LOG_KEY"],
                      os.environ.get("KEEL_LOG_STATUS", "VALID"))
        return
    with tempfile.TemporaryDirectory() as tmp:
        test_keygen(tmp)
        test_valid_and_show(tmp)
        test_tampered(tmp)
        test_unsealed_and_dir_key(tmp)


if __name__ == "__main__":
    main(test)
