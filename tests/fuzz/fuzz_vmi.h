/* The input format of fuzz_vmi.c, shared with make_seeds.c, which writes
 * its seeds: a program of stores into the RAM of the full fake kernel
 * (tests/unit/vmi_fake.h).  Byte 0: bit 0 set, attach afresh over the
 * stored RAM (hostile kallsyms, BTF and page tables reach the attach);
 * clear, keep the attach made over the clean kernel at start-up.  Byte 1
 * picks the PID argument of the views that take one.  Then stores, each
 * an op byte (its low two bits the kind), a region and a 16-bit offset
 * into it (modulo its size), then:
 *   VMI_RAW  u8 n, n bytes
 *   VMI_PTR  u8 region, u16 offset: that place's kernel address (a list
 *            link, a parent, a name: what a rootkit or a stray write
 *            leaves)
 *   VMI_VAL  u8 i: vmi_fuzz_value(i), an address of a kind walks must
 *            refuse (unmapped, MMIO, physical, misaligned, ...)
 *   VMI_U32  u32 value (counts, lengths, masks, magic numbers) */
#ifndef KEEL_TESTS_FUZZ_VMI_H
#define KEEL_TESTS_FUZZ_VMI_H

#include "../unit/vmi_fake.h"

enum { VMI_RAW, VMI_PTR, VMI_VAL, VMI_U32 };

/* Where the fake kernel's structures are (vmi_fake.h), in the order the
 * region byte names them (modulo the count); the last covers all of RAM. */
static const struct vmi_region {
	uint32_t off, size;
} vmi_regions[] = {
	{O_PGD, 4096},       {O_KALLSYMS, 0x2000}, {O_BTF, 0x1000},      {O_INIT, T_SIZE},
	{O_TASK(0), T_SIZE}, {O_TASK(1), T_SIZE},  {O_TASK(2), T_SIZE},   {O_CRED, 16},
	{O_MM, 16},          {O_FILE, 64},         {O_MOUNT, 64},         {O_DENTRY(0), 0x300},
	{O_STR, 0x1100},     {O_PIDNS, 64},        {O_XANODE, XA_SLOTS + 64 * 8},
	{O_PID(0), 0x300},   {O_NET, 32},          {O_NETDEV, 64},        {O_MODS, 0x200},
	{O_NSPROXY, 16},     {O_MNTNS, 32},        {O_FSTYPE, 8},         {O_FILES, 8},
	{O_FDT, 16},         {O_FDARR, 64},        {O_SOCKFILE, 0x80},    {O_SOCKDENTRY, 40},
	{O_SOCKSB, 16},      {O_INODE, 8},         {O_SOCKET, 0x80},      {O_SK(0), 0x300},
	{O_HASHINFO, 32},    {O_LHASH, 16},        {O_EHASH, 8},          {O_RQ, 64},
	{O_KSET, 0x110},     {O_MKOBJ, 48},        {0, RAM_SIZE},
};
#define VMI_REGIONS (sizeof(vmi_regions) / sizeof(vmi_regions[0]))

/* The region that starts at RAM offset off (for make_seeds). */
static inline uint8_t vmi_region_at(uint32_t off)
{
	for (uint8_t i = 0; i < VMI_REGIONS; i++)
		if (vmi_regions[i].off == off)
			return i;
	abort();
}

/* The values VMI_VAL stores. */
static inline uint64_t vmi_fuzz_value(const struct fake *f, uint8_t i)
{
	const uint64_t v[] = {
		0,
		~0ull,
		1, /* an hlist's "nulls" end marker */
		KVA(f, RAM_SIZE), /* just past RAM: unmapped */
		f->kva - (1u << 30) + 0x10000000, /* the UART's page, if a gigapage maps it */
		RAM_BASE + O_INIT, /* a physical address where a virtual one belongs */
		KVA(f, O_INIT) + 3, /* misaligned */
		KVA(f, RAM_SIZE) - 4, /* straddles the end of RAM */
		0x8000000000000000ull, /* not canonical */
		(RAM_BASE >> 12) << 10 | 0xcf, /* a leaf page-table entry */
		0xcf, /* a leaf for physical 0: MMIO */
		((RAM_BASE + O_PGD) >> 12) << 10 | 1, /* a table entry: the root again */
	};
	return v[i % (sizeof(v) / sizeof(v[0]))];
}

#endif
