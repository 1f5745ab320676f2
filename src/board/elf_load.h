/* Loading an RV64 ELF executable into guest physical memory. */
#ifndef KEEL_BOARD_ELF_LOAD_H
#define KEEL_BOARD_ELF_LOAD_H

#include <stddef.h>
#include <stdint.h>

struct bus;

struct elf_image {
	uint64_t entry;
	uint64_t tohost, fromhost; /* symbol addresses, 0 when absent */
	uint64_t lowest, highest; /* physical span of the loaded segments */
};

/* Load every PT_LOAD segment of `path` at its physical address (p_paddr),
 * zero-filling p_memsz beyond p_filesz.  Every segment must land inside
 * RAM.  On failure returns -1 and writes a one-line reason to `err`. */
int elf_load(struct bus *bus, const char *path, struct elf_image *out, char *err, size_t errlen);

#endif
