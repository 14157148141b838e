/*
 * dtb.h: a bounds-checked reader for flattened device trees (FDT v17).
 *
 * The riscv64 port hands the blob its firmware passed in a1 to dtb_parse()
 * once, early, and keeps the result; nothing else in rvmm reads the tree.
 * The parser is plain freestanding C and also runs on the host, where the
 * tests feed it blobs dumped from QEMU, hand-written ones and fuzzed copies.
 *
 * dtb_parse() reads the 40-byte header, then nothing outside
 * [blob, blob + totalsize), and totalsize must not exceed maxlen: whatever
 * the bytes, malformed input gives -EINVAL, never a fault.
 * See dtb.c for what is extracted and what is trusted.
 */
#ifndef RVMM_HAL_RISCV64_DTB_H
#define RVMM_HAL_RISCV64_DTB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hal/hal.h"

#define DTB_MAX_MEM HAL_MAX_MEM_REGIONS
#define DTB_MAX_RSV HAL_MAX_RESERVED
#define DTB_MAX_CPUS HAL_MAX_CPUS

/* Magic of the FDT header, big-endian at offset 0. */
#define DTB_MAGIC 0xd00dfeedu
/* Size of the v17 header: the least a blob can be. */
#define DTB_HEADER_SIZE 40u

/*
 * What the kernel wants from the tree.  Every string is NUL-terminated
 * (truncated to fit when the tree's is longer); every count is at most its
 * array's capacity, with `truncated` set when the tree had more.
 */
struct dtb_info {
	uint32_t totalsize;		/* header totalsize */

	/* /cpus/cpu@* nodes with device_type "cpu", status absent/"okay" */
	unsigned ncpus;
	unsigned long hartids[DTB_MAX_CPUS];	/* their reg, in DTB order */
	unsigned ncpus_total;		/* cpu nodes seen, disabled included */
	uint64_t timebase_freq;		/* /cpus (else first usable cpu), or 0 */
	char isa[128];			/* riscv,isa of the first usable cpu */
	char mmu_type[16];		/* its mmu-type, e.g. "riscv,sv39" */

	/* device_type "memory" reg entries: sorted by base, merged */
	unsigned nmem;
	struct hal_mem_range mem[DTB_MAX_MEM];

	/* /memreserve/ entries, then /reserved-memory children, in order */
	unsigned nrsv;
	struct hal_mem_range rsv[DTB_MAX_RSV];

	char bootargs[256];		/* /chosen bootargs, "" if absent */
	uint64_t initrd_start;		/* /chosen linux,initrd-start, or 0 */
	uint64_t initrd_end;		/* /chosen linux,initrd-end, or 0 */

	bool truncated;			/* more cpus/mem/rsv than fit */

	/*
	 * First reg address of a node compatible with "sifive,test0" (QEMU's
	 * test finisher), or 0: the port uses it to end the machine with a
	 * failure code when the firmware's SRST cannot pass one on.
	 */
	uint64_t finisher;
};

/*
 * dtb_parse: validates the blob and fills *out.
 * => blob: the FDT; any alignment, any content.  maxlen: the bytes readable
 *    at blob (the parser trusts neither totalsize nor any offset beyond it;
 *    pass SIZE_MAX only when the size is truly unknown).
 * => returns 0, or -EINVAL when the blob is malformed (header, offsets,
 *    token stream, strings, cell counts the kernel cannot represent) or an
 *    argument is NULL; *out is then zeroed.
 * => any context; uses about 1 KiB of stack, no allocation, no globals.
 */
int dtb_parse(const void *blob, size_t maxlen, struct dtb_info *out);

/*
 * dtb_totalsize: the header's totalsize, or 0 if the magic is wrong.
 * => blob has at least 8 readable bytes.  Nothing else is checked: use it
 *    to learn how much to map, then call dtb_parse() with that bound.
 */
uint32_t dtb_totalsize(const void *blob);

#endif /* RVMM_HAL_RISCV64_DTB_H */
