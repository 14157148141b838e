/*
 * cpu.c: the riscv64 CPU-level primitives of hal/hal.h that librvmm.a
 * carries for every S-mode kernel: spin hint, idle, and the MMU
 * primitives (satp, sfence.vma, SBI RFENCE) that hal/sv39 needs.  Nothing
 * here knows a PTE, a trap frame or the kernel's per-CPU layout; the only
 * machine facts it asks the kernel for are the hooks hal_ncpus(),
 * hal_cpu_id() and hal_cpu_hartid() (hal/hooks.h).
 *
 * The SBI calls are private (static) so that the library exports no sbi_*
 * symbol a kernel's own SBI layer could collide with.
 */
#include <errno.h>

#include "hal/hal.h"

void
hal_cpu_relax(void)
{
	/* Zihintpause is optional; a few nops give the sibling a chance. */
	__asm__ __volatile__("nop; nop; nop; nop" ::: "memory");
}

void
hal_cpu_idle(void)
{
	__asm__ __volatile__("wfi" ::: "memory");
}

#define CPU_SBI_EXT_RFENCE 0x52464E43	/* "RFNC" */
#define CPU_SBI_SUCCESS 0

/* SBI RFENCE remote_sfence_vma (fid 1) or _asid (fid 2); returns error. */
static inline long
cpu_sbi_rfence(unsigned long fid, unsigned long mask, unsigned long base,
    unsigned long start, unsigned long size, unsigned long asid)
{
	register unsigned long a0 __asm__("a0") = mask;
	register unsigned long a1 __asm__("a1") = base;
	register unsigned long a2 __asm__("a2") = start;
	register unsigned long a3 __asm__("a3") = size;
	register unsigned long a4 __asm__("a4") = asid;
	register unsigned long a6 __asm__("a6") = fid;
	register unsigned long a7 __asm__("a7") = CPU_SBI_EXT_RFENCE;

	__asm__ __volatile__("ecall"
	    : "+r"(a0), "+r"(a1)
	    : "r"(a2), "r"(a3), "r"(a4), "r"(a6), "r"(a7)
	    : "memory");
	return (long)a0;
}

uint64_t
hal_mmu_satp_read(void)
{
	unsigned long v;

	__asm__ __volatile__("csrr %0, satp" : "=r"(v)::"memory");
	return v;
}

void
hal_mmu_satp_write(uint64_t v)
{
	__asm__ __volatile__("csrw satp, %0" ::"r"(v) : "memory");
}

void
hal_mmu_flush_local_all(void)
{
	__asm__ __volatile__("sfence.vma" ::: "memory");
}

void
hal_mmu_flush_local_asid(unsigned asid)
{
	/* rs2 must be a register even for ASID 0: x0 would flush globals. */
	register unsigned long a __asm__("t0") = asid;

	__asm__ __volatile__("sfence.vma zero, %0" ::"r"(a) : "memory");
}

void
hal_mmu_flush_local_va(vaddr_t va, unsigned asid)
{
	register unsigned long a __asm__("t0") = asid;

	__asm__ __volatile__("sfence.vma %0, %1" ::"r"(va), "r"(a) : "memory");
}

void
hal_mmu_flush_local_va_all(vaddr_t va)
{
	__asm__ __volatile__("sfence.vma %0, zero" ::"r"(va) : "memory");
}

#if HAL_MMU
/*
 * The no-MMU build never shoots down (its tests still read satp and flush
 * locally), so it needs no hart ids: no hal_cpu_hartid() hook there.
 */
static long
rfence_call(unsigned long mask, unsigned long base, vaddr_t start, size_t size,
    long asid)
{
	if (asid < 0)
		return cpu_sbi_rfence(1, mask, base, start, size, 0);
	return cpu_sbi_rfence(2, mask, base, start, size,
	    (unsigned long)asid);
}

/* One SBI call per 64-hart window of hart ids in use, as hal_ipi_send. */
int
hal_mmu_remote_fence(const hal_cpuset_t *set, vaddr_t start, size_t size,
    long asid)
{
	unsigned self = hal_cpu_id(), n = hal_ncpus();
	unsigned long base = ~0ul, mask = 0;
	long err = CPU_SBI_SUCCESS, e;

	if (size == HAL_MMU_SIZE_ALL)
		start = 0;	/* size 2^XLEN - 1: the whole space */
	for (unsigned i = 0; i < n; i++) {
		if (i == self || !hal_cpuset_has(set, i))
			continue;
		unsigned long h = hal_cpu_hartid(i);
		if (base != ~0ul && (h < base || h - base >= 64)) {
			if ((e = rfence_call(mask, base, start, size, asid)) != 0)
				err = e;
			base = ~0ul;
		}
		if (base == ~0ul) {
			base = h;
			mask = 0;
		}
		mask |= 1ul << (h - base);
	}
	if (base != ~0ul &&
	    (e = rfence_call(mask, base, start, size, asid)) != 0)
		err = e;
	return err == CPU_SBI_SUCCESS ? 0 : -EOPNOTSUPP;
}

#endif /* HAL_MMU */
