/* A gdb remote-serial-protocol stub over TCP.
 *
 * One client, all-stop, one thread (the hart).  Breakpoints live in the
 * stub, not in guest memory: while any is set, `continue` runs the hart one
 * instruction at a time and compares pc against the table.  That costs an
 * interpreter call per instruction, but the guest never sees an ebreak it
 * did not write, so memory contents and instruction counts stay exactly
 * what they would be without a debugger (keel's runs are meant to be
 * deterministic).
 *
 * Everything the client sends is untrusted: numbers are parsed with bounds,
 * lengths are clamped to our buffers and malformed packets get an error
 * reply, never a crash.
 *
 * Register numbers are the ones gdb's riscv port uses when it has no target
 * description (x0-x31 = 0..31, pc = 32, f0-f31 = 33..64, CSR n = 65 + n,
 * priv = 65 + 4096), and target.xml pins each register to that number, so
 * p/P requests mean the same thing with or without the description. */
#include "svc/gdb/gdbstub.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vm/machine.h"
#include "vm/taps.h"

#define GDB_PACKET_MAX 16384 /* the PacketSize we advertise: largest packet we accept */
#define GDB_REPLY_MAX 16384 /* largest reply payload we build */
#define GDB_XML_MAX 12288 /* room for target.xml */
#define GDB_MAX_BREAKPOINTS 64
#define GDB_RUN_CHUNK 100000 /* instructions per machine_run when no breakpoint is set */
#define GDB_POLL_INTERVAL 4096 /* single steps between checks for ^C */
#define GDB_TRAP_LOOP_STEPS 65536 /* steps without a retired instruction: stuck */
#define GDB_RESEND_LIMIT 16 /* NAKs tolerated for one reply before moving on */

/* gdb's own signal numbers (not the host's), as used in stop replies. */
enum gdb_signal {
	GDB_SIGINT = 2,
	GDB_SIGTRAP = 5,
	GDB_SIGSEGV = 11,
	GDB_SIGXCPU = 24,
};

enum {
	REG_PC = 32,
	REG_F0 = 33,
	REG_CSR0 = 65,
	REG_FFLAGS = REG_CSR0 + 0x001,
	REG_FRM = REG_CSR0 + 0x002,
	REG_FCSR = REG_CSR0 + 0x003,
	REG_PRIV = REG_CSR0 + 4096,
	REG_G_PACKET_COUNT = 33, /* 'g' carries x0-x31 and pc; gdb fetches the rest with 'p' */
};

/* Z/z type numbers; the values are the protocol's. */
enum bp_type { BP_NONE = -1, BP_SOFTWARE = 0, BP_HARDWARE = 1 };

struct breakpoint {
	uint64_t addr;
	enum bp_type type;
};

/* Z2, Z3, Z4: stop on a write, a read, or either, of [addr, addr+len). */
enum watch_type { WP_WRITE = 2, WP_READ = 3, WP_ACCESS = 4 };

#define GDB_MAX_WATCHPOINTS 16

struct watchpoint {
	uint64_t addr, len;
	enum watch_type type;
};

/* A watchpoint an instruction hit: what the stop reply names. */
struct watch_hit {
	bool hit;
	enum watch_type type;
	uint64_t addr; /* the first watched byte the access touched */
};

/* A bounded text buffer: `buf` has room for cap + 1 bytes (text plus NUL).
 * An append that does not fit sets `overflow` and writes nothing. */
struct text {
	char *buf;
	size_t cap, len;
	bool overflow;
};

struct gdb_conn {
	int fd;
	bool no_ack; /* after QStartNoAckMode */
	bool closed; /* peer hung up or the socket failed */
	size_t in_pos, in_len;
	uint8_t in[4096];
};

enum session_end {
	END_NONE, /* keep serving */
	END_KILL, /* 'k' / vKill: stop with the guest where it is */
	END_DETACH, /* 'D': let the guest run on without us */
	END_EXITED, /* the guest exited; the W reply has been built */
};

/* Where recorded history stands, for the stop reply (replaylog:). */
enum history_mark { HISTORY_INSIDE, HISTORY_BEGIN, HISTORY_END };

struct gdb_session {
	const struct gdb_target *t;
	struct machine *m; /* t->machine(), refreshed after every move */
	enum history_mark history; /* of the last stop */
	struct gdb_conn conn;
	struct breakpoint bps[GDB_MAX_BREAKPOINTS];
	unsigned nbps;
	bool client_swbreak, client_hwbreak; /* gdb understands these stop reasons */
	int stop_signal; /* of the last stop, for '?' */
	enum bp_type stop_bp; /* breakpoint that caused the last stop, or BP_NONE */
	struct watchpoint watches[GDB_MAX_WATCHPOINTS];
	unsigned nwatches;
	struct watch_hit stop_watch; /* the watchpoint of the last stop */
	enum session_end end;
	bool no_reply; /* the current packet gets no reply ('k') */
	bool enter_no_ack; /* switch to no-ack mode once the current reply is out */
	size_t pkt_len;
	char pkt[GDB_PACKET_MAX + 1]; /* NUL-terminated; X data may hold NULs too */
	struct text reply; /* payload, framed in place inside reply_frame */
	char reply_frame[1 + GDB_REPLY_MAX + 4]; /* '$' payload '#' checksum NUL */
	struct text xml;
	char xml_buf[GDB_XML_MAX + 1];
	uint8_t mem[GDB_PACKET_MAX]; /* scratch for memory transfers */
};

/* ---------------------------------------------------------------- text */

static void text_init(struct text *t, char *buf, size_t cap)
{
	t->buf = buf;
	t->cap = cap;
	t->len = 0;
	t->overflow = false;
	buf[0] = 0;
}

static void text_putn(struct text *t, const char *s, size_t n)
{
	if (t->overflow || n > t->cap - t->len) {
		t->overflow = true;
		return;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = 0;
}

static void text_puts(struct text *t, const char *s)
{
	text_putn(t, s, strlen(s));
}

static void text_putc(struct text *t, char c)
{
	text_putn(t, &c, 1);
}

static void text_printf(struct text *t, const char *fmt, ...)
{
	if (t->overflow)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(t->buf + t->len, t->cap - t->len + 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n > t->cap - t->len) {
		t->overflow = true;
		t->buf[t->len] = 0;
		return;
	}
	t->len += (size_t)n;
}

static void text_hex_bytes(struct text *t, const uint8_t *bytes, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		char pair[2] = { digits[bytes[i] >> 4], digits[bytes[i] & 15] };
		text_putn(t, pair, 2);
	}
}

/* A register value as gdb wants it: target (little-endian) byte order. */
static void text_hex_le(struct text *t, uint64_t val, unsigned nbytes)
{
	uint8_t bytes[8];
	for (unsigned i = 0; i < nbytes; i++)
		bytes[i] = (uint8_t)(val >> (8 * i));
	text_hex_bytes(t, bytes, nbytes);
}

/* Binary data in the escaped form qXfer replies use. */
static void text_binary(struct text *t, const char *data, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = data[i];
		if (c == '#' || c == '$' || c == '}' || c == '*') {
			text_putc(t, '}');
			c ^= 0x20;
		}
		text_putc(t, c);
	}
}

/* ------------------------------------------------------------- parsing */

static int hex_val(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A big-endian hex number (addresses, lengths, register numbers) of 1..16
 * digits; stops at the first non-hex character. */
static bool parse_hex(const char **p, uint64_t *out)
{
	uint64_t v = 0;
	unsigned digits = 0;
	int d;
	while ((d = hex_val(**p)) >= 0) {
		if (++digits > 16)
			return false;
		v = v << 4 | (uint64_t)d;
		(*p)++;
	}
	*out = v;
	return digits > 0;
}

static bool expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

/* `n` bytes as hex pairs.  The input is NUL-terminated, so looking at the
 * second digit after a valid first one stays inside it. */
static bool parse_hex_bytes(const char **p, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_val((*p)[0]);
		if (hi < 0)
			return false;
		int lo = hex_val((*p)[1]);
		if (lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
		*p += 2;
	}
	return true;
}

static bool parse_hex_le(const char **p, unsigned nbytes, uint64_t *out)
{
	uint8_t bytes[8];
	if (!parse_hex_bytes(p, bytes, nbytes))
		return false;
	*out = 0;
	for (unsigned i = 0; i < nbytes; i++)
		*out |= (uint64_t)bytes[i] << (8 * i);
	return true;
}

/* "ADDR,LEN" followed by `end` (a character, or 0 for end of packet). */
static bool parse_addr_len(const char **p, uint64_t *addr, uint64_t *len, char end)
{
	return parse_hex(p, addr) && expect(p, ',') && parse_hex(p, len) && expect(p, end);
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Is `name` one of the ';'-separated items in `list`? */
static bool list_has(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p; p = strchr(p, ';')) {
		if (*p == ';')
			p++;
		if (strncmp(p, name, n) == 0 && (p[n] == ';' || p[n] == 0))
			return true;
	}
	return false;
}

/* Don't let [addr, addr+len) wrap around the address space, nor exceed max. */
static uint64_t clamp_len(uint64_t addr, uint64_t len, uint64_t max)
{
	if (len > max)
		len = max;
	if (addr + len < addr)
		len = 0 - addr;
	return len;
}

/* ---------------------------------------------------------- connection */

/* Refill the input buffer.  With `wait` false, returns false at once when
 * nothing is pending. */
static bool conn_fill(struct gdb_conn *c, bool wait)
{
	if (c->closed)
		return false;
	ssize_t n;
	do
		n = recv(c->fd, c->in, sizeof c->in, wait ? 0 : MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && !wait && (errno == EAGAIN || errno == EWOULDBLOCK))
		return false;
	if (n <= 0) {
		c->closed = true;
		return false;
	}
	c->in_pos = 0;
	c->in_len = (size_t)n;
	return true;
}

static int conn_getc(struct gdb_conn *c)
{
	if (c->in_pos == c->in_len && !conn_fill(c, true))
		return -1;
	return c->in[c->in_pos++];
}

static bool conn_write(struct gdb_conn *c, const char *buf, size_t len)
{
	while (len > 0 && !c->closed) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			c->closed = true;
		else {
			buf += n;
			len -= (size_t)n;
		}
	}
	return !c->closed;
}

/* Did the client send ^C (or hang up) while the guest ran?  Other bytes
 * arriving mid-run are dropped: in all-stop mode gdb sends nothing else
 * until it has seen a stop reply. */
static bool conn_interrupted(struct gdb_conn *c)
{
	for (;;) {
		if (c->in_pos == c->in_len && !conn_fill(c, false))
			return c->closed;
		const uint8_t *start = c->in + c->in_pos;
		const uint8_t *ctrl_c = memchr(start, 0x03, c->in_len - c->in_pos);
		if (ctrl_c) {
			c->in_pos += (size_t)(ctrl_c - start) + 1;
			return true;
		}
		c->in_pos = c->in_len;
	}
}

/* ------------------------------------------------------------- packets */

enum pkt_status { PKT_OK, PKT_TOO_LONG, PKT_BAD_CHECKSUM, PKT_CLOSED };

/* The part of a packet after '$': data, '#', two checksum digits.  Acks it
 * unless in no-ack mode.  Data beyond GDB_PACKET_MAX is counted but
 * dropped. */
static enum pkt_status read_packet_body(struct gdb_session *s)
{
	struct gdb_conn *c = &s->conn;
	size_t len = 0;
	uint8_t sum = 0;
	bool too_long = false;
	int ch;
	while ((ch = conn_getc(c)) != '#') {
		if (ch < 0)
			return PKT_CLOSED;
		sum += (uint8_t)ch;
		if (len < GDB_PACKET_MAX)
			s->pkt[len++] = (char)ch;
		else
			too_long = true;
	}
	int hi = hex_val(conn_getc(c));
	int lo = hex_val(conn_getc(c));
	if (c->closed)
		return PKT_CLOSED;
	s->pkt[len] = 0;
	s->pkt_len = len;
	if (c->no_ack) /* TCP already guarantees integrity; the checksum is moot */
		return too_long ? PKT_TOO_LONG : PKT_OK;
	bool sum_ok = hi >= 0 && lo >= 0 && (hi << 4 | lo) == sum;
	conn_write(c, sum_ok ? "+" : "-", 1);
	if (!sum_ok)
		return PKT_BAD_CHECKSUM;
	return too_long ? PKT_TOO_LONG : PKT_OK;
}

/* Wait for the next well-formed packet, skipping acks, a stray ^C sent
 * while we were already stopped, and packets that were NAKed. */
static enum pkt_status read_packet(struct gdb_session *s)
{
	for (;;) {
		int ch;
		while ((ch = conn_getc(&s->conn)) != '$')
			if (ch < 0)
				return PKT_CLOSED;
		enum pkt_status st = read_packet_body(s);
		if (st != PKT_BAD_CHECKSUM)
			return st;
	}
}

static int wait_ack(struct gdb_conn *c)
{
	int ch;
	do
		ch = conn_getc(c);
	while (ch >= 0 && ch != '+' && ch != '-');
	return ch;
}

/* Frame s->reply in place and send it, resending on NAK. */
static bool send_reply(struct gdb_session *s)
{
	struct text *r = &s->reply;
	if (r->overflow) { /* a handler misjudged a bound; tell gdb, don't truncate */
		text_init(r, r->buf, r->cap);
		text_puts(r, "E01");
	}
	uint8_t sum = 0;
	for (size_t i = 0; i < r->len; i++)
		sum += (uint8_t)r->buf[i];
	s->reply_frame[0] = '$';
	snprintf(r->buf + r->len, 4, "#%02x", sum);
	size_t frame_len = 1 + r->len + 3;
	for (int attempt = 0; attempt < GDB_RESEND_LIMIT; attempt++) {
		if (!conn_write(&s->conn, s->reply_frame, frame_len))
			return false;
		if (s->conn.no_ack)
			return true;
		int ack = wait_ack(&s->conn);
		if (ack != '-')
			return ack == '+';
	}
	return true;
}

/* ----------------------------------------------------- target description */

static const char *const xreg_names[32] = {
	"zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0",
	"a1", "a2", "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5",
	"s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
};

static const char *const freg_names[32] = {
	"ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0",
	"fa1", "fa2", "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5",
	"fs6", "fs7", "fs8", "fs9", "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
};

struct csr_desc {
	const char *name;
	uint16_t num;
};

/* The CSRs we describe.  'p'/'P' accept any CSR number; this list only
 * decides what gdb shows by name.  The names are gdb's, so it files them
 * in its "csr"/"system" register groups rather than "general". */
static const struct csr_desc described_csrs[] = {
	{ "sstatus", 0x100 }, { "sie", 0x104 }, { "stvec", 0x105 },
	{ "scounteren", 0x106 }, { "sscratch", 0x140 }, { "sepc", 0x141 },
	{ "scause", 0x142 }, { "stval", 0x143 }, { "sip", 0x144 },
	{ "satp", 0x180 }, { "mstatus", 0x300 }, { "misa", 0x301 },
	{ "medeleg", 0x302 }, { "mideleg", 0x303 }, { "mie", 0x304 },
	{ "mtvec", 0x305 }, { "mcounteren", 0x306 }, { "mscratch", 0x340 },
	{ "mepc", 0x341 }, { "mcause", 0x342 }, { "mtval", 0x343 },
	{ "mip", 0x344 }, { "mcycle", 0xb00 }, { "minstret", 0xb02 },
	{ "cycle", 0xc00 }, { "time", 0xc01 }, { "instret", 0xc02 },
	{ "mhartid", 0xf14 },
};

static void xml_reg(struct text *x, const char *name, unsigned bits, const char *type,
		    unsigned regnum)
{
	text_printf(x, "<reg name=\"%s\" bitsize=\"%u\" type=\"%s\" regnum=\"%u\"/>\n", name,
		    bits, type, regnum);
}

/* gdb's riscv-64bit-cpu.xml gives these pointer types so that values print
 * as addresses. */
static const char *xreg_type(unsigned i)
{
	if (i == 1)
		return "code_ptr";
	if (i == 2 || i == 3 || i == 4 || i == 8)
		return "data_ptr";
	return "int";
}

static void xml_cpu_feature(struct text *x)
{
	text_puts(x, "<feature name=\"org.gnu.gdb.riscv.cpu\">\n");
	for (unsigned i = 0; i < 32; i++)
		xml_reg(x, xreg_names[i], 64, xreg_type(i), i);
	xml_reg(x, "pc", 64, "code_ptr", REG_PC);
	text_puts(x, "</feature>\n");
}

static void xml_fpu_feature(struct text *x)
{
	text_puts(x, "<feature name=\"org.gnu.gdb.riscv.fpu\">\n"
		     "<union id=\"riscv_double\"><field name=\"float\" type=\"ieee_single\"/>"
		     "<field name=\"double\" type=\"ieee_double\"/></union>\n");
	for (unsigned i = 0; i < 32; i++)
		xml_reg(x, freg_names[i], 64, "riscv_double", REG_F0 + i);
	xml_reg(x, "fflags", 32, "int", REG_FFLAGS);
	xml_reg(x, "frm", 32, "int", REG_FRM);
	xml_reg(x, "fcsr", 32, "int", REG_FCSR);
	text_puts(x, "</feature>\n");
}

static void xml_csr_features(struct text *x)
{
	text_puts(x, "<feature name=\"org.gnu.gdb.riscv.virtual\">\n");
	xml_reg(x, "priv", 64, "int", REG_PRIV);
	text_puts(x, "</feature>\n<feature name=\"org.gnu.gdb.riscv.csr\">\n");
	for (size_t i = 0; i < sizeof described_csrs / sizeof described_csrs[0]; i++)
		xml_reg(x, described_csrs[i].name, 64, "int", REG_CSR0 + described_csrs[i].num);
	text_puts(x, "</feature>\n");
}

static void build_target_xml(struct text *x)
{
	text_puts(x, "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
		     "<target version=\"1.0\">\n<architecture>riscv:rv64</architecture>\n");
	xml_cpu_feature(x);
	xml_fpu_feature(x);
	xml_csr_features(x);
	text_puts(x, "</target>\n");
	if (x->overflow)
		abort(); /* GDB_XML_MAX is too small for the tables above */
}

/* ----------------------------------------------------------- registers */

/* Size in bytes of register `regno`, or 0 if there is no such register. */
static unsigned reg_size(uint64_t regno)
{
	if (regno < REG_F0 + 32)
		return 8;
	if (regno >= REG_FFLAGS && regno <= REG_FCSR)
		return 4;
	if (regno >= REG_CSR0 && regno <= REG_PRIV)
		return 8;
	return 0;
}

/* fflags/frm/fcsr come straight from the hart's state (taps_regs) so
 * that reading them works whatever mstatus.FS says.  Returns 0, or -1 if
 * unreadable. */
static int reg_read(struct machine *m, unsigned regno, uint64_t *val)
{
	struct tap_regs r;
	taps_regs(m, &r);
	if (regno < 32)
		*val = r.x[regno];
	else if (regno == REG_PC)
		*val = r.pc;
	else if (regno < REG_F0 + 32)
		*val = r.f[regno - REG_F0];
	else if (regno == REG_FFLAGS)
		*val = r.fflags;
	else if (regno == REG_FRM)
		*val = r.frm;
	else if (regno == REG_FCSR)
		*val = (uint64_t)r.frm << 5 | r.fflags;
	else if (regno == REG_PRIV)
		*val = r.priv;
	else
		return taps_csr_read(m, regno - REG_CSR0, val);
	return 0;
}

/* Returns 0, or -1 if the register cannot take the value. */
static int reg_write(struct machine *m, unsigned regno, uint64_t val)
{
	struct tap_regs r;
	taps_regs(m, &r);
	if (regno < 32)
		return taps_set_xreg(m, regno, val);
	if (regno == REG_PC)
		return taps_set_pc(m, val);
	if (regno < REG_F0 + 32)
		return taps_set_freg(m, regno - REG_F0, val);
	if (regno == REG_FFLAGS)
		return taps_set_fcsr(m, (unsigned)val & 0x1f, r.frm);
	if (regno == REG_FRM)
		return taps_set_fcsr(m, r.fflags, (unsigned)val & 7);
	if (regno == REG_FCSR)
		return taps_set_fcsr(m, (unsigned)val & 0x1f, (unsigned)(val >> 5) & 7);
	if (regno == REG_PRIV)
		return taps_set_priv(m, (unsigned)val);
	return taps_csr_write(m, regno - REG_CSR0, val);
}

static void cmd_read_regs(struct gdb_session *s)
{
	for (unsigned i = 0; i < REG_G_PACKET_COUNT; i++) {
		uint64_t val = 0;
		reg_read(s->m, i, &val);
		text_hex_le(&s->reply, val, 8);
	}
}

/* 'G': any prefix of the 'g' layout, in whole registers. */
static void cmd_write_regs(struct gdb_session *s, const char *args)
{
	size_t n = strlen(args);
	if (n % 16 || n / 16 > REG_G_PACKET_COUNT) {
		text_puts(&s->reply, "E01");
		return;
	}
	uint64_t vals[REG_G_PACKET_COUNT];
	for (size_t i = 0; i < n / 16; i++)
		if (!parse_hex_le(&args, 8, &vals[i])) {
			text_puts(&s->reply, "E01");
			return;
		}
	for (size_t i = 0; i < n / 16; i++)
		reg_write(s->m, (unsigned)i, vals[i]);
	text_puts(&s->reply, "OK");
}

static void cmd_read_reg(struct gdb_session *s, const char *args)
{
	uint64_t regno, val;
	if (!parse_hex(&args, &regno) || *args || !reg_size(regno)) {
		text_puts(&s->reply, "E01");
		return;
	}
	unsigned size = reg_size(regno);
	if (reg_read(s->m, (unsigned)regno, &val) == 0) {
		text_hex_le(&s->reply, val, size);
		return;
	}
	for (unsigned i = 0; i < 2 * size; i++) /* "unavailable", not an error: */
		text_putc(&s->reply, 'x'); /* keeps 'info all-registers' going */
}

static void cmd_write_reg(struct gdb_session *s, const char *args)
{
	uint64_t regno, val;
	if (!parse_hex(&args, &regno) || !expect(&args, '=') || !reg_size(regno) ||
	    !parse_hex_le(&args, reg_size(regno), &val) || *args) {
		text_puts(&s->reply, "E01");
		return;
	}
	if (reg_write(s->m, (unsigned)regno, val))
		text_puts(&s->reply, "E22");
	else
		text_puts(&s->reply, "OK");
}

/* -------------------------------------------------------------- memory */

static void cmd_read_mem(struct gdb_session *s, const char *args)
{
	uint64_t addr, len;
	if (!parse_addr_len(&args, &addr, &len, 0)) {
		text_puts(&s->reply, "E01");
		return;
	}
	len = clamp_len(addr, len, GDB_REPLY_MAX / 2);
	struct memview mv;
	taps_memview(s->m, &mv);
	size_t got = memview_read_virt(&mv, taps_current_satp(s->m), addr, s->mem, (size_t)len);
	if (got == 0 && len > 0) /* a short read is fine: gdb asks again for the rest */
		text_puts(&s->reply, "E14");
	else
		text_hex_bytes(&s->reply, s->mem, got);
}

static void finish_write(struct gdb_session *s, uint64_t addr, size_t len)
{
	if (taps_write_virt(s->m, taps_current_satp(s->m), addr, s->mem, len) < len)
		text_puts(&s->reply, "E14");
	else
		text_puts(&s->reply, "OK");
}

/* 'M': hex data. */
static void cmd_write_mem(struct gdb_session *s, const char *args)
{
	uint64_t addr, len;
	if (!parse_addr_len(&args, &addr, &len, ':') || len > sizeof s->mem ||
	    strlen(args) != 2 * len || clamp_len(addr, len, len) != len ||
	    !parse_hex_bytes(&args, s->mem, (size_t)len)) {
		text_puts(&s->reply, "E01");
		return;
	}
	finish_write(s, addr, (size_t)len);
}

/* Undo the '}' escapes of binary packet data; returns the length, or -1. */
static long unescape_binary(const char *in, size_t n, uint8_t *out, size_t cap)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)in[i];
		if (c == '}') {
			if (++i == n)
				return -1;
			c = (uint8_t)in[i] ^ 0x20;
		}
		if (len == cap)
			return -1;
		out[len++] = c;
	}
	return (long)len;
}

/* 'X': binary data; gdb probes support with a zero-length write. */
static void cmd_write_mem_binary(struct gdb_session *s, const char *args)
{
	uint64_t addr, len;
	if (!parse_addr_len(&args, &addr, &len, ':') || clamp_len(addr, len, len) != len) {
		text_puts(&s->reply, "E01");
		return;
	}
	size_t data_len = s->pkt_len - (size_t)(args - s->pkt);
	long got = unescape_binary(args, data_len, s->mem, sizeof s->mem);
	if (got < 0 || (uint64_t)got != len) {
		text_puts(&s->reply, "E01");
		return;
	}
	finish_write(s, addr, (size_t)len);
}

/* --------------------------------------------------------- breakpoints */

static int bp_find(const struct gdb_session *s, uint64_t addr, enum bp_type type)
{
	for (unsigned i = 0; i < s->nbps; i++)
		if (s->bps[i].addr == addr && s->bps[i].type == type)
			return (int)i;
	return -1;
}

static const char *bp_insert(struct gdb_session *s, uint64_t addr, enum bp_type type)
{
	if (bp_find(s, addr, type) >= 0)
		return "OK";
	if (s->nbps == GDB_MAX_BREAKPOINTS)
		return "E28";
	s->bps[s->nbps++] = (struct breakpoint){ .addr = addr, .type = type };
	return "OK";
}

static const char *bp_remove(struct gdb_session *s, uint64_t addr, enum bp_type type)
{
	int i = bp_find(s, addr, type);
	if (i >= 0)
		s->bps[i] = s->bps[--s->nbps];
	return "OK";
}

/* Watchpoints are checked before each instruction, as breakpoints are:
 * the data access the next instruction would make (taps_next_access)
 * against every watched range.  A hit stops before the access, with pc
 * on the accessing instruction: RISC-V's watchpoints are "nonsteppable"
 * to gdb, which then steps over the instruction itself and compares the
 * old and new values.  Reverse-continue: see last_hit_in. */
static bool watch_hit(struct gdb_session *s)
{
	struct tap_next_access a;
	s->stop_watch.hit = false;
	if (!s->nwatches || taps_next_access(s->m, &a) != 0)
		return false;
	for (unsigned w = 0; w < s->nwatches; w++) {
		const struct watchpoint *wp = &s->watches[w];
		bool kind = wp->type == WP_ACCESS || (wp->type == WP_WRITE ? a.write : a.read);
		if (!kind || a.va + a.size <= wp->addr || a.va >= wp->addr + wp->len)
			continue;
		s->stop_watch = (struct watch_hit){true, wp->type, a.va > wp->addr ? a.va : wp->addr};
		return true;
	}
	return false;
}

static const char *watch_insert(struct gdb_session *s, uint64_t addr, uint64_t len,
				enum watch_type type)
{
	if (!len || addr + len < addr)
		return "E22";
	for (unsigned i = 0; i < s->nwatches; i++)
		if (s->watches[i].addr == addr && s->watches[i].len == len &&
		    s->watches[i].type == type)
			return "OK";
	if (s->nwatches == GDB_MAX_WATCHPOINTS)
		return "E28";
	s->watches[s->nwatches++] = (struct watchpoint){addr, len, type};
	return "OK";
}

static const char *watch_remove(struct gdb_session *s, uint64_t addr, uint64_t len,
				enum watch_type type)
{
	for (unsigned i = 0; i < s->nwatches; i++)
		if (s->watches[i].addr == addr && s->watches[i].len == len &&
		    s->watches[i].type == type) {
			s->watches[i] = s->watches[--s->nwatches];
			break;
		}
	return "OK";
}

/* Z/z type,addr,kind[;cond...].  Types 0 and 1: breakpoints (kind: the
 * instruction's length); 2, 3, 4: write, read and access watchpoints
 * (kind: the watched length). */
static void cmd_breakpoint(struct gdb_session *s, const char *pkt)
{
	const char *p = pkt + 1;
	uint64_t type, addr, kind;
	bool insert = pkt[0] == 'Z';
	if (!parse_hex(&p, &type) || !expect(&p, ','))
		text_puts(&s->reply, "E01");
	else if (type > WP_ACCESS)
		return; /* empty reply: not supported */
	else if (!parse_hex(&p, &addr) || !expect(&p, ',') || !parse_hex(&p, &kind))
		text_puts(&s->reply, "E01");
	else if (type >= WP_WRITE)
		text_puts(&s->reply, insert ? watch_insert(s, addr, kind, (enum watch_type)type)
					    : watch_remove(s, addr, kind, (enum watch_type)type));
	else if (insert)
		text_puts(&s->reply, bp_insert(s, addr, (enum bp_type)type));
	else
		text_puts(&s->reply, bp_remove(s, addr, (enum bp_type)type));
}

static bool breakpoint_hit(struct gdb_session *s)
{
	struct tap_regs r;
	taps_regs(s->m, &r);
	uint64_t pc = r.pc;
	for (unsigned i = 0; i < s->nbps; i++)
		if (s->bps[i].addr == pc) {
			s->stop_bp = s->bps[i].type;
			return true;
		}
	return false;
}

/* ----------------------------------------------------------- execution */

static void reply_stop(struct gdb_session *s)
{
	if (s->end == END_EXITED) {
		text_printf(&s->reply, "W%02x", (unsigned)s->m->exit_code & 0xff);
		return;
	}
	text_printf(&s->reply, "T%02xthread:1;", s->stop_signal);
	if (s->history != HISTORY_INSIDE)
		text_printf(&s->reply, "replaylog:%s;", s->history == HISTORY_BEGIN ? "begin" : "end");
	if (s->stop_bp == BP_SOFTWARE && s->client_swbreak)
		text_puts(&s->reply, "swbreak:;");
	if (s->stop_bp == BP_HARDWARE && s->client_hwbreak)
		text_puts(&s->reply, "hwbreak:;");
	if (s->stop_watch.hit) {
		static const char *const name[] = {[WP_WRITE] = "watch", [WP_READ] = "rwatch",
						   [WP_ACCESS] = "awatch"};
		text_printf(&s->reply, "%s:%" PRIx64 ";", name[s->stop_watch.type],
			    s->stop_watch.addr);
	}
}

/* Does this machine_run result end the run?  Records why in the session.
 * The guest's end is an exit (W).  The rest are stops, so the state can
 * still be inspected: --max-insns as SIGXCPU (the guest used up its
 * instruction budget), a hart stuck taking traps as SIGSEGV, a WFI that
 * nothing can wake as a plain SIGTRAP. */
static bool run_result_stops(struct gdb_session *s, enum stop_reason r)
{
	if (s->t->at_history_end && s->t->at_history_end(s->t->opaque)) {
		s->history = HISTORY_END;
		return true;
	}
	if (r == STOP_EXIT || s->m->exited) {
		s->end = END_EXITED;
		return true;
	}
	switch (r) {
	case STOP_BUDGET:
	case STOP_IDLE: /* a timer deadline will wake the hart */
		return false;
	case STOP_MAX_INSNS:
		s->stop_signal = GDB_SIGXCPU;
		return true;
	case STOP_TRAP_LOOP:
		s->stop_signal = GDB_SIGSEGV;
		return true;
	default: /* STOP_WFI_IDLE */
		return true;
	}
}

/* Run the target forward; the machine may be a new one afterwards. */
static enum stop_reason target_run(struct gdb_session *s, uint64_t steps)
{
	enum stop_reason r = s->t->run(s->t->opaque, steps);
	s->m = s->t->machine(s->t->opaque);
	return r;
}

/* Move the target to `icount`; false if that is before history began
 * (the machine is then at its start). */
static bool target_seek(struct gdb_session *s, uint64_t icount)
{
	int rc = s->t->seek(s->t->opaque, icount);
	s->m = s->t->machine(s->t->opaque);
	return rc == 0;
}

/* machine_run spots a hart that only takes traps over a whole slice; one
 * step at a time it cannot, so count steps that retired nothing. */
static bool trap_loop(struct gdb_session *s, uint64_t icount_before, unsigned long *stuck)
{
	*stuck = taps_icount(s->m) == icount_before ? *stuck + 1 : 0;
	if (*stuck < GDB_TRAP_LOOP_STEPS)
		return false;
	s->stop_signal = GDB_SIGSEGV;
	return true;
}

static void run_until_stop(struct gdb_session *s)
{
	unsigned long stuck = 0;
	/* Unlike a breakpoint (gdb steps over those itself), a watchpoint
	 * hit by the instruction at pc stops at once: after a reverse move
	 * gdb stands before the access, and going on must show it. */
	if (watch_hit(s))
		return;
	for (unsigned long n = 1;; n++) {
		bool per_insn = s->nbps > 0 || s->nwatches > 0;
		uint64_t icount = taps_icount(s->m);
		if (run_result_stops(s, target_run(s, per_insn ? 1 : GDB_RUN_CHUNK)))
			return;
		if (per_insn && (breakpoint_hit(s) || watch_hit(s) || trap_loop(s, icount, &stuck)))
			return;
		if ((!per_insn || n % GDB_POLL_INTERVAL == 0) && conn_interrupted(&s->conn)) {
			s->stop_signal = GDB_SIGINT;
			return;
		}
	}
}

static void resume(struct gdb_session *s, bool single_step)
{
	s->stop_signal = GDB_SIGTRAP;
	s->stop_bp = BP_NONE;
	s->stop_watch.hit = false;
	s->history = HISTORY_INSIDE;
	if (single_step)
		run_result_stops(s, target_run(s, 1));
	else
		run_until_stop(s);
	reply_stop(s);
}

/* ------------------------------------------------- reverse execution */

/* How far back one pass of reverse-continue looks: a window is replayed
 * one instruction at a time, comparing pc with the breakpoints. */
#define GDB_REVERSE_WINDOW 2000000ULL

/* The last place in [lo, hi] to stop at going backward, found by
 * replaying the window: an icount in [lo, hi) at which pc sits on a
 * breakpoint, or the icount right after an instruction in [lo, hi) that
 * hit a watchpoint (*watch says which).  gdb steps back over that
 * instruction itself, as it steps over it going forward ("nonsteppable"
 * watchpoints), and so ends before the access, comparing the values.
 * UINT64_MAX if none (or gdb interrupted). */
static uint64_t last_hit_in(struct gdb_session *s, uint64_t lo, uint64_t hi,
			    struct watch_hit *watch)
{
	uint64_t found = UINT64_MAX;
	if (!target_seek(s, lo))
		return found;
	for (unsigned long n = 1; taps_icount(s->m) < hi; n++) {
		if (breakpoint_hit(s)) {
			found = taps_icount(s->m);
			watch->hit = false;
		}
		if (watch_hit(s)) {
			found = taps_icount(s->m) + 1;
			*watch = s->stop_watch;
		}
		uint64_t before = taps_icount(s->m);
		target_run(s, 1);
		if (taps_icount(s->m) == before && s->m->exited)
			break;
		if (n % GDB_POLL_INTERVAL == 0 && conn_interrupted(&s->conn))
			break;
	}
	return found;
}

/* bs: back to the instruction before this one.  bc: back to the last
 * breakpoint hit before here, window by window, or to history's start. */
static void reverse(struct gdb_session *s, bool step)
{
	s->stop_signal = GDB_SIGTRAP;
	s->stop_bp = BP_NONE;
	s->stop_watch.hit = false;
	s->history = HISTORY_INSIDE;
	uint64_t start = s->t->history_start(s->t->opaque);
	uint64_t here = taps_icount(s->m);
	if (step) {
		if (here <= start || !target_seek(s, here - 1))
			s->history = HISTORY_BEGIN;
		reply_stop(s);
		return;
	}
	for (uint64_t hi = here; hi > start;) {
		uint64_t lo = hi - start > GDB_REVERSE_WINDOW ? hi - GDB_REVERSE_WINDOW : start;
		struct watch_hit watch = {0};
		uint64_t hit = s->nbps || s->nwatches ? last_hit_in(s, lo, hi, &watch) : UINT64_MAX;
		if (hit != UINT64_MAX) {
			target_seek(s, hit);
			s->stop_watch = watch;
			if (!watch.hit)
				breakpoint_hit(s); /* sets stop_bp for the reply */
			reply_stop(s);
			return;
		}
		hi = lo;
	}
	target_seek(s, start);
	s->history = HISTORY_BEGIN;
	reply_stop(s);
}

static void cmd_reverse(struct gdb_session *s, const char *pkt)
{
	if (!s->t->seek || (pkt[1] != 's' && pkt[1] != 'c') || pkt[2])
		return; /* empty reply: not supported */
	reverse(s, pkt[1] == 's');
}

/* qRcmd (gdb's `monitor`): "icount" prints the instruction count, "seek
 * N" moves there (forward or back).  The reply is the output in hex. */
static void cmd_monitor(struct gdb_session *s, const char *hex)
{
	char cmd[128];
	size_t n = 0;
	for (; hex[0] && hex[1] && n + 1 < sizeof cmd; hex += 2) {
		unsigned byte;
		if (sscanf(hex, "%2x", &byte) != 1)
			break;
		cmd[n++] = (char)byte;
	}
	cmd[n] = 0;
	char out[160];
	unsigned long long target;
	if (strcmp(cmd, "icount") == 0) {
		snprintf(out, sizeof out, "%llu\n", (unsigned long long)taps_icount(s->m));
	} else if (sscanf(cmd, "seek %llu", &target) == 1 && s->t->seek) {
		bool ok = target_seek(s, target);
		snprintf(out, sizeof out, "%s icount %llu\n", ok ? "at" : "history starts at",
			 (unsigned long long)taps_icount(s->m));
	} else {
		snprintf(out, sizeof out, "keel: monitor commands: icount%s\n",
			 s->t->seek ? ", seek N" : "");
	}
	for (const char *p = out; *p; p++)
		text_printf(&s->reply, "%02x", (unsigned char)*p);
}

/* c [addr], s [addr], C sig[;addr], S sig[;addr].  The signal is ignored:
 * there is no process to deliver it to. */
static void cmd_resume(struct gdb_session *s, const char *pkt)
{
	const char *p = pkt + 1;
	bool has_signal = pkt[0] == 'C' || pkt[0] == 'S';
	uint64_t sig, addr;
	bool ok = !has_signal || (parse_hex(&p, &sig) && (*p == 0 || expect(&p, ';')));
	bool has_addr = ok && *p;
	if (has_addr)
		ok = parse_hex(&p, &addr) && *p == 0;
	if (!ok) {
		text_puts(&s->reply, "E01");
		return;
	}
	if (has_addr)
		taps_set_pc(s->m, addr);
	resume(s, pkt[0] == 's' || pkt[0] == 'S');
}

/* vCont;action[:thread][;action[:thread]]...  With one thread the first
 * action is the one that applies (gdb lists thread-specific actions before
 * the default one). */
static void cmd_vcont(struct gdb_session *s, const char *actions)
{
	switch (actions[0]) {
	case 's':
	case 'S':
		resume(s, true);
		break;
	case 'c':
	case 'C':
		resume(s, false);
		break;
	default:
		text_puts(&s->reply, "E01");
	}
}

/* -------------------------------------------------------------- queries */

/* qSupported[:feature;feature...] */
static void cmd_supported(struct gdb_session *s, const char *features)
{
	if (*features == ':')
		features++;
	s->client_swbreak = list_has(features, "swbreak+");
	s->client_hwbreak = list_has(features, "hwbreak+");
	text_printf(&s->reply, "PacketSize=%x;qXfer:features:read+;QStartNoAckMode+",
		    GDB_PACKET_MAX);
	if (s->t->seek)
		text_puts(&s->reply, ";ReverseStep+;ReverseContinue+");
	if (s->client_swbreak)
		text_puts(&s->reply, ";swbreak+");
	if (s->client_hwbreak)
		text_puts(&s->reply, ";hwbreak+");
}

/* qXfer:features:read:ANNEX:offset,length */
static void cmd_xfer_features(struct gdb_session *s, const char *args)
{
	uint64_t offset, len;
	if (!starts_with(args, "target.xml:")) {
		text_puts(&s->reply, "E00");
		return;
	}
	args += strlen("target.xml:");
	if (!parse_addr_len(&args, &offset, &len, 0)) {
		text_puts(&s->reply, "E01");
		return;
	}
	const struct text *x = &s->xml;
	if (offset >= x->len) {
		text_putc(&s->reply, 'l');
		return;
	}
	/* worst case every byte is escaped, plus the m/l marker */
	size_t n = (size_t)clamp_len(0, len, (GDB_REPLY_MAX - 1) / 2);
	if (n > x->len - offset)
		n = x->len - (size_t)offset;
	text_putc(&s->reply, offset + n < x->len ? 'm' : 'l');
	text_binary(&s->reply, x->buf + offset, n);
}

struct fixed_reply {
	const char *query, *reply;
};

/* One thread, id 1, always attached to an existing "process" (so gdb
 * detaches rather than kills when it quits). */
static const struct fixed_reply fixed_queries[] = {
	{ "qAttached", "1" },
	{ "qC", "QC1" },
	{ "qfThreadInfo", "m1" },
	{ "qsThreadInfo", "l" },
	{ "qThreadExtraInfo,1", "686172742030" }, /* "hart 0", hex-encoded */
};

static void cmd_query(struct gdb_session *s, const char *pkt)
{
	if (starts_with(pkt, "qSupported")) {
		cmd_supported(s, pkt + strlen("qSupported"));
		return;
	}
	if (starts_with(pkt, "qRcmd,")) {
		cmd_monitor(s, pkt + strlen("qRcmd,"));
		return;
	}
	if (starts_with(pkt, "qXfer:features:read:")) {
		cmd_xfer_features(s, pkt + strlen("qXfer:features:read:"));
		return;
	}
	if (starts_with(pkt, "qAttached:")) /* multiprocess form */
		pkt = "qAttached";
	for (size_t i = 0; i < sizeof fixed_queries / sizeof fixed_queries[0]; i++)
		if (strcmp(pkt, fixed_queries[i].query) == 0) {
			text_puts(&s->reply, fixed_queries[i].reply);
			return;
		}
}

static void cmd_set(struct gdb_session *s, const char *pkt)
{
	if (strcmp(pkt, "QStartNoAckMode") == 0) {
		text_puts(&s->reply, "OK");
		s->enter_no_ack = true;
	}
}

static void cmd_v(struct gdb_session *s, const char *pkt)
{
	if (strcmp(pkt, "vCont?") == 0)
		text_puts(&s->reply, "vCont;c;C;s;S");
	else if (starts_with(pkt, "vCont;"))
		cmd_vcont(s, pkt + strlen("vCont;"));
	else if (starts_with(pkt, "vKill")) {
		text_puts(&s->reply, "OK");
		s->end = END_KILL;
	}
}

/* ------------------------------------------------------------- dispatch */

static void dispatch(struct gdb_session *s)
{
	const char *pkt = s->pkt;
	switch (pkt[0]) {
	case '?': reply_stop(s); break;
	case 'g': cmd_read_regs(s); break;
	case 'G': cmd_write_regs(s, pkt + 1); break;
	case 'p': cmd_read_reg(s, pkt + 1); break;
	case 'P': cmd_write_reg(s, pkt + 1); break;
	case 'm': cmd_read_mem(s, pkt + 1); break;
	case 'M': cmd_write_mem(s, pkt + 1); break;
	case 'X': cmd_write_mem_binary(s, pkt + 1); break;
	case 'c': case 'C': case 's': case 'S': cmd_resume(s, pkt); break;
	case 'b': cmd_reverse(s, pkt); break;
	case 'Z': case 'z': cmd_breakpoint(s, pkt); break;
	case 'H': case 'T': text_puts(&s->reply, "OK"); break;
	case 'q': cmd_query(s, pkt); break;
	case 'Q': cmd_set(s, pkt); break;
	case 'v': cmd_v(s, pkt); break;
	case 'D': text_puts(&s->reply, "OK"); s->end = END_DETACH; break;
	case 'k': s->no_reply = true; s->end = END_KILL; break;
	default: break; /* empty reply: not supported */
	}
}

/* Serve packets until gdb kills/detaches, the guest exits or the
 * connection drops (the only failure). */
static int serve(struct gdb_session *s)
{
	while (s->end == END_NONE) {
		enum pkt_status st = read_packet(s);
		if (st == PKT_CLOSED)
			break;
		text_init(&s->reply, s->reply_frame + 1, GDB_REPLY_MAX);
		s->no_reply = false;
		if (st == PKT_TOO_LONG)
			text_puts(&s->reply, "E01");
		else
			dispatch(s);
		if (!s->no_reply && !send_reply(s) && s->end == END_NONE)
			break;
		if (s->enter_no_ack) {
			s->conn.no_ack = true;
			s->enter_no_ack = false;
		}
	}
	if (s->end != END_NONE)
		return 0;
	fprintf(stderr, "keel: gdb connection lost\n");
	return -1;
}

/* --------------------------------------------------------------- socket */

static int listen_loopback(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 1)) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* The port actually bound (differs from the requested one for port 0). */
static int bound_port(int fd, int requested)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	if (getsockname(fd, (struct sockaddr *)&sa, &len))
		return requested;
	return ntohs(sa.sin_port);
}

static int accept_client(int port)
{
	if (port < 0 || port > 65535) {
		fprintf(stderr, "keel: invalid gdb port %d\n", port);
		return -1;
	}
	int lfd = listen_loopback(port);
	if (lfd < 0) {
		fprintf(stderr, "keel: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
		return -1;
	}
	fprintf(stderr, "keel: waiting for gdb on 127.0.0.1:%d\n", bound_port(lfd, port));
	int fd;
	do
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		fprintf(stderr, "keel: gdb accept failed: %s\n", strerror(errno));
	close(lfd);
	int one = 1; /* replies are small and latency-bound */
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* After 'D' the guest carries on as if no debugger had been there. */
static void run_detached(struct gdb_session *s)
{
	while (!s->m->exited && target_run(s, GDB_RUN_CHUNK) == STOP_BUDGET &&
	       !(s->t->at_history_end && s->t->at_history_end(s->t->opaque)))
		;
}

int gdbstub_serve_target(const struct gdb_target *t, int port)
{
	int fd = accept_client(port);
	if (fd < 0)
		return -1;
	struct gdb_session *s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		fprintf(stderr, "keel: gdb: out of memory\n");
		return -1;
	}
	*s = (struct gdb_session){
		.t = t,
		.m = t->machine(t->opaque),
		.conn = { .fd = fd },
		.stop_signal = GDB_SIGTRAP,
		.stop_bp = BP_NONE,
		.end = END_NONE,
	};
	text_init(&s->xml, s->xml_buf, GDB_XML_MAX);
	build_target_xml(&s->xml);
	int rc = serve(s);
	close(fd);
	if (s->end == END_DETACH)
		run_detached(s);
	free(s);
	return rc;
}

/* --- the live machine as a target --- */

static struct machine *live_machine(void *opaque)
{
	return opaque;
}

static enum stop_reason live_run(void *opaque, uint64_t steps)
{
	return machine_run(opaque, steps);
}

int gdbstub_serve(struct machine *m, int port)
{
	const struct gdb_target live = {
		.machine = live_machine,
		.run = live_run,
		.opaque = m,
	};
	return gdbstub_serve_target(&live, port);
}
