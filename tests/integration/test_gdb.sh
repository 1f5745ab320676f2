#!/bin/bash
# End-to-end test of keel's gdb stub (src/svc/gdb/gdbstub.c).
#
# usage: test_gdb.sh KEEL [ELF]     (or KEEL=path test_gdb.sh)
#
# Builds its own tiny bare-metal guest (so the assertions know exactly what
# the program does) and runs these sessions against `keel run --gdb PORT`:
#   1. gdb-multiarch: breakpoints, a read watchpoint, continue, stepi, registers (x, f, CSR,
#      priv), memory read/write, register write that changes the guest's
#      result, and continuing to the guest's exit (checks keel's status).
#   2. a raw protocol client (python3): malformed and hostile packets must
#      get error replies without killing keel; ^C interrupts a spinning
#      guest; Z0 breakpoints report swbreak; a trap loop stops as SIGSEGV;
#      no-ack mode; 'k' ends keel.
#   3. gdb detaches at once: the guest must run on, unmodified, to its own
#      exit (status 26).
#   4. --max-insns: running into the limit is reported as SIGXCPU.
#   5. only if ELF is given: gdb connects to that ELF, pc must be its entry
#      point, one stepi must move pc, then kill.
# Exit 0 on success, 77 (skip) if a needed tool is missing, 1 on failure.

set -u

KEEL=${1:-${KEEL:-}} # like the python integration tests, $KEEL works too
if [ -z "$KEEL" ]; then
	echo "usage: test_gdb.sh KEEL [ELF]" >&2
	exit 2
fi
EXTRA_ELF=${2:-}
GDB=${GDB:-gdb-multiarch}
CC=${RISCV_CC:-riscv64-linux-gnu-gcc}
NM=${RISCV_NM:-riscv64-linux-gnu-nm}
READELF=${RISCV_READELF:-riscv64-linux-gnu-readelf}
TIMEOUT=${GDB_TEST_TIMEOUT:-60}

for tool in "$GDB" "$CC" "$NM" "$READELF" python3 timeout; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "SKIP: $tool not found"
		exit 77
	fi
done
if [ ! -x "$KEEL" ]; then
	echo "FAIL: keel binary '$KEEL' not executable"
	exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keel-gdb-test.XXXXXX")
KEEL_PID=
cleanup() {
	if [ -n "$KEEL_PID" ] && kill -0 "$KEEL_PID" 2>/dev/null; then
		kill "$KEEL_PID" 2>/dev/null
		wait "$KEEL_PID" 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

FAILURES=0
fail() {
	echo "FAIL: $*"
	FAILURES=$((FAILURES + 1))
}

# ---------------------------------------------------------------- the guest
# No compressed instructions, so that every address below is predictable.
cat >"$WORK/guest.S" <<'EOF'
	.option norvc
	.section .text.init, "ax"
	.globl _start
_start:
	li	t0, 0x6000		# mstatus.FS = dirty, so FP works
	csrs	mstatus, t0
	li	a0, 42
	.globl bp_after_li
bp_after_li:
	li	a1, 0x1234
	lla	t0, value
	lw	a3, 0(t0)		# gdb overwrites value before this runs
	addi	a2, a0, 1		# gdb sets a0 = 100 before this runs
	.globl bp_check
bp_check:
	li	t1, 0x3ff0000000000000	# 1.0
	fmv.d.x	ft0, t1
	add	a4, a2, a3		# exit code: 101 + 5 = 106 after gdb's edits
	.globl bp_fp
bp_fp:
	andi	a4, a4, 0xff		# untouched by gdb: 43 + 0xffffffffdeadbeef -> 0x1a
	slli	a4, a4, 1
	ori	a4, a4, 1
	lla	t0, tohost
	sd	a4, 0(t0)
1:	j	1b

	.globl spin
spin:					# the raw client points pc here
	addi	s2, s2, 1
	.globl spin_back
spin_back:
	j	spin

	.section .tohost, "aw", @progbits
	.align	6
	.globl	tohost
tohost:	.dword 0
	.size	tohost, 8
	.align	6
	.globl	fromhost
fromhost: .dword 0
	.size	fromhost, 8

	.data
	.align	3
	.globl	value
value:	.word 0xdeadbeef, 0x11223344, 0x55667788, 0x99aabbcc
EOF

cat >"$WORK/guest.ld" <<'EOF'
OUTPUT_ARCH("riscv")
ENTRY(_start)
SECTIONS
{
	. = 0x80000000;
	.text.init : { *(.text.init) }
	. = ALIGN(0x1000);
	.tohost : { *(.tohost) }
	. = ALIGN(0x1000);
	.text : { *(.text) }
	.data : { *(.data) }
	.bss : { *(.bss) }
}
EOF

GUEST="$WORK/guest.elf"
if ! "$CC" -march=rv64gc -mabi=lp64d -nostdlib -nostartfiles -static -Wl,--build-id=none -T "$WORK/guest.ld" \
	-o "$GUEST" "$WORK/guest.S" 2>"$WORK/cc.err"; then
	cat "$WORK/cc.err"
	echo "FAIL: could not build the test guest"
	exit 1
fi

sym() {
	local hex
	hex=$("$NM" "$GUEST" | awk -v s="$1" '$3 == s { print $1 }')
	printf '0x%x\n' $((16#$hex))
}

# ------------------------------------------------------------------- keel
# Start keel with --gdb on a free port and wait until it listens.  Retries
# with another port if the one picked was taken in the meantime.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_keel() {
	local elf=$1 attempt
	shift
	for attempt in 1 2 3 4 5; do
		PORT=$(free_port)
		timeout "$TIMEOUT" "$KEEL" run --bios none --kernel "$elf" --gdb "$PORT" "$@" \
			>"$WORK/keel.out" 2>"$WORK/keel.err" &
		KEEL_PID=$!
		local i
		for i in $(seq 1 100); do
			if grep -q "keel: waiting for gdb on 127.0.0.1:$PORT" "$WORK/keel.err"; then
				return 0
			fi
			kill -0 "$KEEL_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$KEEL_PID" 2>/dev/null
		wait "$KEEL_PID" 2>/dev/null
		KEEL_PID=
		echo "note: keel did not listen on port $PORT (attempt $attempt):"
		cat "$WORK/keel.err"
	done
	return 1
}

# Wait for keel to finish; sets KEEL_STATUS.  A crash or a sanitizer
# report (when keel is built with -fsanitize) is a failure in any session.
wait_keel() {
	wait "$KEEL_PID"
	KEEL_STATUS=$?
	KEEL_PID=
	if [ "$KEEL_STATUS" -gt 128 ] && [ "$KEEL_STATUS" -ne 255 ] ||
		grep -Eq "Sanitizer|runtime error:|core dumped" "$WORK/keel.err"; then
		fail "keel crashed (status $KEEL_STATUS): $(head -c 2000 "$WORK/keel.err")"
	fi
}

expect_in() {
	local file=$1 pattern=$2 what=$3
	if ! grep -Eq -- "$pattern" "$file"; then
		fail "$what (no match for /$pattern/)"
	fi
}

# ---------------------------------------------------- 1. gdb-multiarch
run_gdb_session() {
	cat >"$WORK/session1.gdb" <<EOF
set pagination off
set confirm off
set architecture riscv:rv64
target remote 127.0.0.1:$PORT
echo @@ initial pc\n
info registers pc
break *bp_after_li
continue
echo @@ a0 at bp_after_li\n
info registers a0
stepi
echo @@ after stepi\n
info registers pc
info registers a1
echo @@ memory\n
x/4xw &value
set {unsigned int}&value = 5
x/1xw &value
set \$a0 = 100
echo @@ a0 written\n
p \$a0
rwatch -l *(int *)&value
continue
echo @@ after rwatch\n
info registers pc
delete 2
hbreak *bp_check
continue
echo @@ at bp_check\n
p \$a2
p \$a3
p/x \$pc
break *bp_fp
continue
echo @@ at bp_fp\n
p \$ft0
p \$a4
info registers misa
p (\$mstatus >> 13) & 3
info registers priv
p \$fflags
info registers
delete
echo @@ run to exit\n
continue
EOF
	timeout "$TIMEOUT" "$GDB" -batch -nx -x "$WORK/session1.gdb" "$GUEST" \
		>"$WORK/gdb1.out" 2>&1
}

session_gdb() {
	echo "== session 1: gdb-multiarch"
	if ! start_keel "$GUEST"; then
		fail "keel never listened for gdb"
		return
	fi
	run_gdb_session
	local gdb_status=$?
	wait_keel
	local out="$WORK/gdb1.out"
	local entry=$(sym _start) after_li=$(sym bp_after_li) check=$(sym bp_check)
	expect_in "$out" "^pc +$entry[[:space:]]+$entry <_start>" "initial pc is the entry point $entry"
	expect_in "$out" "^Breakpoint 1, 0x0*${after_li#0x} in bp_after_li" "stop at breakpoint 1"
	expect_in "$out" "^a0 +0x2a[[:space:]]+42\$" "a0 == 42 after li"
	expect_in "$out" "^pc +$(printf '0x%x' $((after_li + 4)))[[:space:]]+$(printf '0x%x' $((after_li + 4))) <bp_after_li\+4>" "stepi moved pc by 4"
	expect_in "$out" "^a1 +0x1000[[:space:]]+4096\$" "stepi executed exactly one instruction (lui)"
	expect_in "$out" ":[[:space:]]+0xdeadbeef[[:space:]]+0x11223344[[:space:]]+0x55667788[[:space:]]+0x99aabbcc" "x/4xw shows the data"
	expect_in "$out" ":[[:space:]]+0x00000005\$" "memory write is read back"
	expect_in "$out" "^\\\$1 = 100\$" "register write is read back"
	expect_in "$out" "^Hardware read watchpoint 2: -location" "a read watchpoint stops"
	expect_in "$out" "^Value = 5\$" "the read watchpoint shows the value read"
	expect_in "$out" "^pc +$(printf '0x%x' $((after_li + 20)))[[:space:]]" "the read watchpoint stops right after the lw"
	expect_in "$out" "^Breakpoint 3, 0x0*${check#0x} in bp_check" "stop at hardware breakpoint"
	expect_in "$out" "^\\\$2 = 101\$" "guest computed a2 from the a0 gdb wrote"
	expect_in "$out" "^\\\$3 = 5\$" "guest loaded the value gdb wrote"
	expect_in "$out" "^Breakpoint 4, " "stop at breakpoint 4"
	expect_in "$out" "double = 1[,}]" "ft0 holds 1.0"
	expect_in "$out" "^\\\$6 = 106\$" "a4 == 106"
	expect_in "$out" "^misa +0x8000000000[0-9a-f]{6}" "misa readable, MXL=64"
	expect_in "$out" "^\\\$7 = 3\$" "mstatus shows FS dirty"
	expect_in "$out" "^priv +0x3[[:space:]]+prv:3 \\[Machine\\]" "priv is M"
	expect_in "$out" "^\\\$8 = 0\$" "fflags readable"
	expect_in "$out" "^t6 +0x0[[:space:]]+0\$" "info registers lists all x registers"
	expect_in "$out" "^a4 +0x6a[[:space:]]+106\$" "info registers shows a4"
	expect_in "$out" "exited with code 0152\\]" "gdb saw the guest exit with 106"
	if grep -Eiq "Remote connection closed|Remote failure|Remote replied unexpectedly|Could not (fetch|write)|Couldn't (fetch|write)|Cannot access memory|Ignoring packet error|bogus|malformed" "$out"; then
		fail "gdb reported a remote error"
	fi
	[ "$gdb_status" -eq 0 ] || fail "gdb exited with status $gdb_status"
	[ "$KEEL_STATUS" -eq 106 ] || fail "keel exited with $KEEL_STATUS, want the guest's 106"
	if [ "$FAILURES" -ne 0 ]; then
		echo "--- gdb output"; cat "$out"
		echo "--- keel stderr"; cat "$WORK/keel.err"
	fi
}

# ------------------------------------------------- 2. raw protocol client
cat >"$WORK/raw_client.py" <<'EOF'
import socket, sys, time

port, entry, spin, spin_back = int(sys.argv[1]), *(int(a, 16) for a in sys.argv[2:5])
failures = []

sock = socket.create_connection(("127.0.0.1", port), timeout=20)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
buf = b""
no_ack = False

def recv_byte():
    global buf
    while not buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("keel closed the connection")
        buf += chunk
    b, buf = buf[:1], buf[1:]
    return b

def frame(payload):
    return b"$" + payload + b"#%02x" % (sum(payload) & 0xff)

def read_reply():
    while recv_byte() != b"$":
        pass
    data = b""
    while (c := recv_byte()) != b"#":
        data += c
    cs = recv_byte() + recv_byte()
    if int(cs, 16) != sum(data) & 0xff:
        failures.append("bad checksum from keel on %r" % data[:40])
    if not no_ack:
        sock.sendall(b"+")
    return data

def expect_ack():
    a = recv_byte()
    if a != b"+":
        failures.append("expected '+' ack, got %r" % a)

def send(payload):
    if isinstance(payload, str):
        payload = payload.encode()
    sock.sendall(frame(payload))
    if not no_ack:
        expect_ack()

def ask(payload):
    send(payload)
    return read_reply().decode("latin-1")

def check(cond, what):
    if not cond:
        failures.append(what)

def le_hex(v):
    return v.to_bytes(8, "little").hex()

# Packet layer: a bad checksum is NAKed and the connection stays usable.
sock.sendall(b"$g#00")
check(recv_byte() == b"-", "bad checksum not NAKed")

r = ask("qSupported:swbreak+;multiprocess+;hwbreak+;xmlRegisters=i386")
check("PacketSize=" in r and "qXfer:features:read+" in r and "swbreak+" in r, "qSupported: %r" % r)
r = ask("?")
check(r.startswith("T05"), "'?' -> %r" % r)

xml = ""
while True:
    r = ask("qXfer:features:read:target.xml:%x,200" % len(xml))
    check(r[:1] in ("m", "l"), "qXfer reply %r" % r[:20])
    xml += r[1:]
    if r[:1] != "m":
        break
for needle in ("riscv:rv64", "org.gnu.gdb.riscv.cpu", "org.gnu.gdb.riscv.fpu",
               "org.gnu.gdb.riscv.csr", 'name="mstatus"', 'name="fcsr"', 'name="priv"'):
    check(needle in xml, "target.xml lacks " + needle)
check(ask("qXfer:features:read:nope.xml:0,100").startswith("E"), "unknown annex accepted")

g = ask("g")
check(len(g) == 33 * 16, "'g' length %d" % len(g))
check(g[32 * 16:] == le_hex(entry), "pc in 'g' is not the entry point")
check(ask("p20") == le_hex(entry), "p20 (pc)")
check(ask("p1041") == le_hex(3), "priv not M: %r" % ask("p1041"))
check(ask("p42") == "00000000", "fflags (reg 0x42) should be 4 zero bytes")

# Hostile or malformed requests: error replies, never a crash.
bad = {
    "mzz,4": "E", "m80000000": "E", "m80000000,": "E", "m,4": "E",
    "m11112222333344445,4": "E",           # 17 hex digits
    "mfffffffffffff000,10": "E14",         # nothing mapped there
    "mfffffffffffffffc,100": "E14",        # would wrap around
    "p99999": "E", "pzz": "E", "p11111111111111111": "E",
    "P20=12": "E", "P20=zzzzzzzzzzzzzzzz": "E", "P9999=00": "E",
    "Gxyz": "E", "G" + "0" * 15: "E",
    "M80003000,4:zz": "E", "M80003000,4:0000": "E",
    "M80003000,ffffffffffffffff:00": "E",
    "X80003000,4:ab": "E", "X80003000,1:}": "E",
    "Z0,zz,4": "E", "Z0": "E", "cxyz": "E", "C05x": "E",
    "vCont;q": "E",
}
for pkt, want in bad.items():
    r = ask(pkt)
    check(r.startswith(want), "%r -> %r, want %s..." % (pkt, r, want))
big = ask("m80000000,ffffffffffffffff")
check(not big.startswith("E") and 0 < len(big) <= 0x4000 and len(big) % 2 == 0,
      "huge m length not clamped: %d chars" % len(big))
check(big[:8] == bytes.fromhex(big[:8]).hex(), "m reply not hex")
check(ask("q" * 20000).startswith("E"), "overlong packet not rejected")
for pkt in ("qFooBar", "vMustReplyEmpty", "Z5,80000000,4", "!", "bc"):
    check(ask(pkt) == "", "%r should get the empty reply" % pkt)
# watchpoints: kept (and removed) by address and length; an empty or
# wrapping range is refused
for pkt, want in (("Z2,80000000,4", "OK"), ("Z3,80000000,8", "OK"), ("z2,80000000,4", "OK"),
                  ("z3,80000000,8", "OK"), ("Z4,80000000,0", "E"),
                  ("Z2,ffffffffffffffff,4", "E")):
    check(ask(pkt).startswith(want), "%r should get %s" % (pkt, want))
check(ask("X80003000,0:") == "OK", "X probe")
check(ask("qfThreadInfo") == "m1" and ask("qsThreadInfo") == "l", "thread list")
check(ask("qC") == "QC1" and ask("Hg0") == "OK", "qC/H")

# Memory write then read back, in hex and binary form (with escapes).
value_addr = entry + 0x3000  # scratch RAM past the guest image
check(ask("M%x,4:01020304" % value_addr) == "OK", "M write")
check(ask("m%x,4" % value_addr) == "01020304", "M readback")
send(b"X%x,4:" % value_addr + bytes([0x7d, 0x23 ^ 0x20, 0x7d, 0x24 ^ 0x20, 0x7d, 0x7d ^ 0x20, 0x41]))
r = read_reply().decode()
check(r == "OK", "X write -> %r" % r)
check(ask("m%x,4" % value_addr) == "23247d41", "X readback")

# No-ack mode from here on.
check(ask("QStartNoAckMode") == "OK", "QStartNoAckMode")
no_ack = True

# ^C stops a guest spinning forever.
check(ask("P20=" + le_hex(spin)) == "OK", "set pc")
send("vCont;c")
time.sleep(0.5)
sock.sendall(b"\x03")
r = read_reply().decode()
check(r.startswith("T02"), "^C -> %r, want T02" % r)
pc = int.from_bytes(bytes.fromhex(ask("p20")), "little")
check(pc in (spin, spin_back), "pc 0x%x not in the spin loop" % pc)
s2 = int.from_bytes(bytes.fromhex(ask("p12")), "little")
check(s2 > 0, "guest did not run (s2 == 0)")

# A software breakpoint stops continue; the stop says swbreak.
check(ask("Z0,%x,4" % spin_back) == "OK", "Z0")
r = ask("c")
check(r.startswith("T05") and "swbreak" in r, "continue to Z0 -> %r" % r)
check(int.from_bytes(bytes.fromhex(ask("p20")), "little") == spin_back, "pc at Z0")
s2a = int.from_bytes(bytes.fromhex(ask("p12")), "little")
r = ask("s")
check(r.startswith("T05"), "step -> %r" % r)
check(int.from_bytes(bytes.fromhex(ask("p20")), "little") == spin, "step from spin_back")
r = ask("vCont;c")
check(r.startswith("T05"), "second continue -> %r" % r)
check(int.from_bytes(bytes.fromhex(ask("p12")), "little") == s2a + 1, "one loop iteration")
check(ask("z0,%x,4" % spin_back) == "OK", "z0")

# A hart that only takes traps (pc and mtvec at unmapped 0) stops with
# SIGSEGV, both when running in chunks and one step at a time.
for bp in (False, True):
    if bp:
        check(ask("Z1,%x,4" % spin) == "OK", "Z1")
    check(ask("P20=" + le_hex(0)) == "OK", "set pc 0")
    r = ask("c")
    check(r.startswith("T0b"), "trap loop (breakpoint set: %s) -> %r, want T0b" % (bp, r))

sock.sendall(frame(b"k"))
sock.close()
for f in failures:
    print("FAIL (raw): " + f)
sys.exit(1 if failures else 0)
EOF

session_raw() {
	echo "== session 2: raw protocol client"
	if ! start_keel "$GUEST"; then
		fail "keel never listened for gdb"
		return
	fi
	timeout "$TIMEOUT" python3 "$WORK/raw_client.py" "$PORT" "$(sym _start)" "$(sym spin)" \
		"$(sym spin_back)"
	local status=$?
	wait_keel
	[ "$status" -eq 0 ] || fail "raw protocol client (status $status)"
	[ "$KEEL_STATUS" -ne 124 ] || fail "keel did not exit after 'k'"
}

# ------------------------------------------------------------ 3. detach
session_detach() {
	echo "== session 3: detach"
	if ! start_keel "$GUEST"; then
		fail "keel never listened for gdb"
		return
	fi
	timeout "$TIMEOUT" "$GDB" -batch -nx -ex "target remote 127.0.0.1:$PORT" -ex "detach" \
		"$GUEST" >"$WORK/gdb3.out" 2>&1
	wait_keel
	if [ "$KEEL_STATUS" -ne 26 ]; then
		fail "after detach keel exited with $KEEL_STATUS, want the guest's own 26"
		cat "$WORK/gdb3.out" "$WORK/keel.err"
	fi
}

# ------------------------------------------------------- 4. --max-insns
session_max_insns() {
	echo "== session 4: --max-insns"
	if ! start_keel "$GUEST" --max-insns 1000; then
		fail "keel never listened for gdb"
		return
	fi
	timeout "$TIMEOUT" "$GDB" -batch -nx -ex "target remote 127.0.0.1:$PORT" \
		-ex 'set $pc = spin' -ex "continue" -ex 'p $s2 > 100' -ex "kill" \
		"$GUEST" >"$WORK/gdb4.out" 2>&1
	wait_keel
	expect_in "$WORK/gdb4.out" "received signal SIGXCPU" "--max-insns shows up as SIGXCPU"
	expect_in "$WORK/gdb4.out" "^\\\$1 = 1\$" "the guest ran until the limit"
	[ "$KEEL_STATUS" -ne 124 ] || fail "keel did not exit after kill"
	[ "$FAILURES" -eq 0 ] || cat "$WORK/gdb4.out"
}

# ------------------------------------------------------- 5. a given ELF
session_extra_elf() {
	echo "== session 5: $EXTRA_ELF"
	local entry
	entry=$("$READELF" -h "$EXTRA_ELF" | awk '/Entry point/ { print $4 }')
	if ! start_keel "$EXTRA_ELF"; then
		fail "keel never listened for gdb"
		return
	fi
	timeout "$TIMEOUT" "$GDB" -batch -nx -ex "set architecture riscv:rv64" \
		-ex "target remote 127.0.0.1:$PORT" -ex "p/x \$pc" -ex "stepi" -ex "p/x \$pc" \
		-ex "kill" "$EXTRA_ELF" >"$WORK/gdb5.out" 2>&1
	wait_keel
	local first second
	first=$(grep -E '^\$1 = ' "$WORK/gdb5.out" | awk '{ print $3 }')
	second=$(grep -E '^\$2 = ' "$WORK/gdb5.out" | awk '{ print $3 }')
	[ -n "$first" ] && [ $((first)) -eq $((entry)) ] || fail "pc $first is not the entry $entry"
	[ -n "$second" ] && [ "$second" != "$first" ] || fail "stepi did not move pc ($second)"
	[ "$KEEL_STATUS" -ne 124 ] || fail "keel did not exit after kill"
	[ "$FAILURES" -eq 0 ] || cat "$WORK/gdb5.out"
}

session_gdb
session_raw
session_detach
session_max_insns
[ -z "$EXTRA_ELF" ] || session_extra_elf

if [ "$FAILURES" -ne 0 ]; then
	echo "test_gdb: $FAILURES failure(s)"
	exit 1
fi
echo "test_gdb: all passed"
exit 0
