/* Integer group: SHA-256 (32-bit ALU work: rotates, adds, logic, byte
 * loads) and a switch-dispatched stack-machine interpreter (indirect jumps
 * and short dependent chains, i.e. what guest interpreters do). */
#include "bench.h"

/* ---- SHA-256 ---- */

#define SHA_BUF_BYTES 16384
#define SHA_PASSES 40 /* hash the buffer this many times, chaining */

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static inline uint32_t ror32(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}

	uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
	uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = hh + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) +
			      ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
		uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) +
			      ((a & b) ^ (a & c) ^ (b & c));
		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += hh;
}

/* Full SHA-256 (with padding) of a message whose length is a multiple of
 * 64 bytes, which is all this benchmark needs. */
static void sha256(const uint8_t *msg, size_t len, uint8_t out[32])
{
	uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	uint8_t pad[64] = { 0x80 };
	uint64_t bits = (uint64_t)len * 8;

	for (size_t off = 0; off < len; off += 64)
		sha256_block(h, msg + off);
	for (int i = 0; i < 8; i++)
		pad[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_block(h, pad);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (uint8_t)(h[i] >> (24 - 8 * j));
}

static uint8_t sha_buf[SHA_BUF_BYTES];

uint64_t kernel_sha256(void)
{
	uint64_t seed = 1;
	uint8_t digest[32];

	for (size_t i = 0; i < SHA_BUF_BYTES; i++)
		sha_buf[i] = (uint8_t)(lcg_next(&seed) >> 56);
	/* Each pass's digest overwrites part of the buffer, so no pass can be
	 * skipped or reordered. */
	for (int pass = 0; pass < SHA_PASSES; pass++) {
		sha256(sha_buf, SHA_BUF_BYTES, digest);
		for (int i = 0; i < 32; i++)
			sha_buf[(pass * 32 + i) % SHA_BUF_BYTES] = digest[i];
	}
	uint64_t sum = 0;
	for (int i = 0; i < 32; i++)
		sum = sum << 8 | (sum >> 56 ^ digest[i]);
	return sum;
}

/* ---- bytecode interpreter ---- */

/* A small stack machine.  Jump targets are absolute 16-bit byte offsets;
 * immediates are 32-bit little-endian, sign-extended. */
enum op {
	OP_HALT, /* return top of stack */
	OP_PUSH, /* imm32 */
	OP_LOAD, /* u8 local */
	OP_STORE, /* u8 local */
	OP_DUP,
	OP_ADD,
	OP_SUB,
	OP_MUL,
	OP_AND,
	OP_XOR,
	OP_SHR, /* u8 shift */
	OP_EQ,
	OP_JMP, /* u16 target */
	OP_JZ, /* u16 target, pops */
	OP_JNZ, /* u16 target, pops */
};

#define VM_COLLATZ_LIMIT 1500 /* the program runs Collatz for n = LIMIT..1 */

static int64_t vm_run(const uint8_t *code)
{
	int64_t stack[16], locals[8] = { 0 };
	int sp = 0;
	unsigned pc = 0;

	for (;;) {
		uint8_t op = code[pc++];

		switch (op) {
		case OP_HALT:
			return stack[sp - 1];
		case OP_PUSH:
			stack[sp++] = (int32_t)((uint32_t)code[pc] | (uint32_t)code[pc + 1] << 8 |
						(uint32_t)code[pc + 2] << 16 |
						(uint32_t)code[pc + 3] << 24);
			pc += 4;
			break;
		case OP_LOAD:
			stack[sp++] = locals[code[pc++]];
			break;
		case OP_STORE:
			locals[code[pc++]] = stack[--sp];
			break;
		case OP_DUP:
			stack[sp] = stack[sp - 1];
			sp++;
			break;
		case OP_ADD:
			sp--;
			stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] + (uint64_t)stack[sp]);
			break;
		case OP_SUB:
			sp--;
			stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] - (uint64_t)stack[sp]);
			break;
		case OP_MUL:
			sp--;
			stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] * (uint64_t)stack[sp]);
			break;
		case OP_AND:
			sp--;
			stack[sp - 1] &= stack[sp];
			break;
		case OP_XOR:
			sp--;
			stack[sp - 1] ^= stack[sp];
			break;
		case OP_SHR:
			stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] >> code[pc++]);
			break;
		case OP_EQ:
			sp--;
			stack[sp - 1] = stack[sp - 1] == stack[sp];
			break;
		case OP_JMP:
			pc = code[pc] | (unsigned)code[pc + 1] << 8;
			break;
		case OP_JZ:
			pc = stack[--sp] == 0 ? (code[pc] | (unsigned)code[pc + 1] << 8) : pc + 2;
			break;
		case OP_JNZ:
			pc = stack[--sp] != 0 ? (code[pc] | (unsigned)code[pc + 1] << 8) : pc + 2;
			break;
		default:
			return -1; /* corrupt program: shows up as a bad checksum */
		}
	}
}

/* A tiny assembler, so the program below can use named labels. */
struct vm_asm {
	uint8_t code[256];
	unsigned len;
	unsigned label[8]; /* label -> offset */
	unsigned fixup_at[16], fixup_label[16], fixups;
};

static void asm_op(struct vm_asm *a, enum op op)
{
	a->code[a->len++] = (uint8_t)op;
}

static void asm_op_u8(struct vm_asm *a, enum op op, unsigned arg)
{
	asm_op(a, op);
	a->code[a->len++] = (uint8_t)arg;
}

static void asm_push(struct vm_asm *a, int32_t imm)
{
	asm_op(a, OP_PUSH);
	for (int i = 0; i < 4; i++)
		a->code[a->len++] = (uint8_t)((uint32_t)imm >> (8 * i));
}

static void asm_jump(struct vm_asm *a, enum op op, unsigned label)
{
	asm_op(a, op);
	a->fixup_at[a->fixups] = a->len;
	a->fixup_label[a->fixups++] = label;
	a->len += 2;
}

static void asm_label(struct vm_asm *a, unsigned label)
{
	a->label[label] = a->len;
}

static void asm_link(struct vm_asm *a)
{
	for (unsigned i = 0; i < a->fixups; i++) {
		unsigned target = a->label[a->fixup_label[i]];
		a->code[a->fixup_at[i]] = (uint8_t)target;
		a->code[a->fixup_at[i] + 1] = (uint8_t)(target >> 8);
	}
}

enum { V_N, V_X, V_STEPS, V_TOTAL };
enum { L_NEXT_N, L_STEP, L_EVEN, L_COUNTED, L_DONE };

/* total = fold over n = LIMIT..1 of (total*31 + collatz_steps(n)) ^ n */
static void vm_build_collatz(struct vm_asm *a)
{
	asm_push(a, VM_COLLATZ_LIMIT);
	asm_op_u8(a, OP_STORE, V_N);
	asm_push(a, 0);
	asm_op_u8(a, OP_STORE, V_TOTAL);

	asm_label(a, L_NEXT_N);
	asm_op_u8(a, OP_LOAD, V_N);
	asm_op_u8(a, OP_STORE, V_X);
	asm_push(a, 0);
	asm_op_u8(a, OP_STORE, V_STEPS);

	asm_label(a, L_STEP);
	asm_op_u8(a, OP_LOAD, V_X);
	asm_push(a, 1);
	asm_op(a, OP_EQ);
	asm_jump(a, OP_JNZ, L_DONE);
	asm_op_u8(a, OP_LOAD, V_X);
	asm_push(a, 1);
	asm_op(a, OP_AND);
	asm_jump(a, OP_JZ, L_EVEN);
	asm_op_u8(a, OP_LOAD, V_X); /* x = 3x + 1 */
	asm_op(a, OP_DUP);
	asm_op(a, OP_ADD);
	asm_op_u8(a, OP_LOAD, V_X);
	asm_op(a, OP_ADD);
	asm_push(a, 1);
	asm_op(a, OP_ADD);
	asm_op_u8(a, OP_STORE, V_X);
	asm_jump(a, OP_JMP, L_COUNTED);
	asm_label(a, L_EVEN);
	asm_op_u8(a, OP_LOAD, V_X); /* x = x / 2 */
	asm_op_u8(a, OP_SHR, 1);
	asm_op_u8(a, OP_STORE, V_X);
	asm_label(a, L_COUNTED);
	asm_op_u8(a, OP_LOAD, V_STEPS);
	asm_push(a, 1);
	asm_op(a, OP_ADD);
	asm_op_u8(a, OP_STORE, V_STEPS);
	asm_jump(a, OP_JMP, L_STEP);

	asm_label(a, L_DONE);
	asm_op_u8(a, OP_LOAD, V_TOTAL);
	asm_push(a, 31);
	asm_op(a, OP_MUL);
	asm_op_u8(a, OP_LOAD, V_STEPS);
	asm_op(a, OP_ADD);
	asm_op_u8(a, OP_LOAD, V_N);
	asm_op(a, OP_XOR);
	asm_op_u8(a, OP_STORE, V_TOTAL);
	asm_op_u8(a, OP_LOAD, V_N);
	asm_push(a, 1);
	asm_op(a, OP_SUB);
	asm_op(a, OP_DUP);
	asm_op_u8(a, OP_STORE, V_N);
	asm_jump(a, OP_JNZ, L_NEXT_N);
	asm_op_u8(a, OP_LOAD, V_TOTAL);
	asm_op(a, OP_HALT);
	asm_link(a);
}

uint64_t kernel_bytecode(void)
{
	struct vm_asm a = { .len = 0 };

	vm_build_collatz(&a);
	return (uint64_t)vm_run(a.code);
}
