/* ELF loading with libelf.  The file is untrusted input: every size and
 * address is checked before memory is touched. */
#include "board/elf_load.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bus/bus.h"

static int fail(char *err, size_t errlen, const char *path, const char *why)
{
	snprintf(err, errlen, "%s: %s", path, why);
	return -1;
}

static int load_segment(struct bus *bus, Elf *elf, const GElf_Phdr *ph, const char *path,
			char *err, size_t errlen)
{
	if (ph->p_filesz > ph->p_memsz)
		return fail(err, errlen, path, "segment file size exceeds memory size");
	uint8_t *dst = bus_ram_ptr(bus, ph->p_paddr, ph->p_memsz, true);
	if (!dst && ph->p_memsz)
		return fail(err, errlen, path, "segment does not fit in guest RAM");
	size_t filesize;
	const char *file = elf_rawfile(elf, &filesize);
	if (!file || ph->p_offset > filesize || ph->p_filesz > filesize - ph->p_offset)
		return fail(err, errlen, path, "segment extends past end of file (truncated?)");
	memcpy(dst, file + ph->p_offset, ph->p_filesz);
	memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	return 0;
}

static void find_htif_symbols(Elf *elf, struct elf_image *out)
{
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || sh.sh_entsize == 0)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		size_t n = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym sym;
			if (!gelf_getsym(data, (int)i, &sym))
				break;
			const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name)
				continue;
			if (strcmp(name, "tohost") == 0)
				out->tohost = sym.st_value;
			else if (strcmp(name, "fromhost") == 0)
				out->fromhost = sym.st_value;
		}
	}
}

static int load_elf(struct bus *bus, Elf *elf, const char *path, struct elf_image *out,
		    char *err, size_t errlen)
{
	GElf_Ehdr eh;
	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh))
		return fail(err, errlen, path, "not an ELF file");
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_RISCV)
		return fail(err, errlen, path, "not a 64-bit RISC-V ELF");
	if (eh.e_type != ET_EXEC)
		return fail(err, errlen, path, "not an executable (ET_EXEC) ELF");
	size_t phnum;
	if (elf_getphdrnum(elf, &phnum))
		return fail(err, errlen, path, "bad program header table");
	out->entry = eh.e_entry;
	out->lowest = UINT64_MAX;
	int loaded = 0;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph))
			return fail(err, errlen, path, "bad program header");
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (load_segment(bus, elf, &ph, path, err, errlen))
			return -1;
		if (ph.p_paddr < out->lowest)
			out->lowest = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > out->highest)
			out->highest = ph.p_paddr + ph.p_memsz;
		loaded++;
	}
	if (!loaded)
		return fail(err, errlen, path, "no loadable segments");
	find_htif_symbols(elf, out);
	return 0;
}

int elf_load(struct bus *bus, const char *path, struct elf_image *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return fail(err, errlen, path, "libelf initialisation failed");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, path, strerror(errno));
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	int rc;
	if (!elf)
		rc = fail(err, errlen, path, elf_errmsg(-1));
	else
		rc = load_elf(bus, elf, path, out, err, errlen);
	if (elf)
		elf_end(elf);
	close(fd);
	return rc;
}
