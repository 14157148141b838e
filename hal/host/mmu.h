/*
 * mmu.h: the host port's software MMU (mmu.c), for host-only code: the
 * host tests that want its counters, and the "trapping" accesses that the
 * host versions of the wrong-use tests make.  Machine-independent code
 * never includes this (it uses hal.h's probes).
 */
#ifndef RVMM_HAL_HOST_MMU_H
#define RVMM_HAL_HOST_MMU_H

#include <stdint.h>

#include "hal/hal.h"

#define HOST_MMU_TLB_ENTRIES 64
/* Simulated device page (hal_mmio_regions), outside RAM. */
#define HOST_MMIO_BASE 0x10000000ull
/* Simulated kernel image (hal_kernel_image), reserved inside region 0. */
#define HOST_KIMAGE_BASE 0x80200000ull
#define HOST_KIMAGE_TEXT (16ull << 10)
#define HOST_KIMAGE_RODATA (8ull << 10)
#define HOST_KIMAGE_DATA (40ull << 10)
#define HOST_KIMAGE_SIZE (HOST_KIMAGE_TEXT + HOST_KIMAGE_RODATA + \
	HOST_KIMAGE_DATA)

struct host_mmu_stats {
	uint64_t hits;		/* translations served by the TLB */
	uint64_t walks;		/* table walks (TLB misses) */
	uint64_t faults;	/* page faults raised */
	uint64_t flushes;	/* local sfence.vma */
	uint64_t remote;	/* remote fences (RFENCE) applied to this hart */
};

void host_mmu_stats(unsigned cpu, struct host_mmu_stats *out);

/* Reads hw_asid_bits= and svpbmt=.  pre: main(), before other harts run. */
void host_mmu_init(void);

/*
 * host_mmu_kernel_access: one plain kernel access (HAL_FAULT_READ, _WRITE
 * or _EXEC; 8-byte aligned) through the calling hart's MMU, outside the
 * user-access routines (SUM as the hart has it: clear), as a load or
 * store instruction of kernel code would make it: a page fault goes to
 * vm_fault_trap and is retried while it resolves it.  Returns 0 (*val
 * read or written), vm_fault_trap's error (-EPERM: a user page, SUM
 * clear) or -ENXIO (an access fault).
 */
int host_mmu_kernel_access(vaddr_t va, unsigned access, uint64_t *val);

/*
 * host_mmu_access_or_panic: host_mmu_kernel_access, and a fault it does
 * not resolve panics with the message rv_trap() prints ("unexpected trap:
 * store page fault ...").  Returns the value read (0 for writes and
 * fetches).
 */
uint64_t host_mmu_access_or_panic(vaddr_t va, unsigned access,
    uint64_t value);

#endif /* RVMM_HAL_HOST_MMU_H */
