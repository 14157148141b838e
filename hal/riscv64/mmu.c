/*
 * mmu.c: the MMU primitives of hal.h on riscv64: satp, sfence.vma, SBI
 * RFENCE, and the C side of the probes (probe.S, recovery in trap.c).
 * Paging itself is hal/sv39's business; nothing here knows a PTE.
 */
#include <errno.h>

#include "hal/hal.h"
#include "hal/riscv64/csr.h"
#include "hal/riscv64/rv.h"
#include "hal/riscv64/sbi.h"

int rv_probe_read64(vaddr_t va, uint64_t *out);
int rv_probe_write64(vaddr_t va, uint64_t value);
int rv_probe_exec_call(vaddr_t va);

uint64_t
hal_mmu_satp_read(void)
{
	return csr_read(satp);
}

void
hal_mmu_satp_write(uint64_t v)
{
	csr_write(satp, v);
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

static long
rfence_call(unsigned long mask, unsigned long base, vaddr_t start, size_t size,
    long asid)
{
	if (asid < 0)
		return sbi_remote_sfence_vma(mask, base, start, size);
	return sbi_remote_sfence_vma_asid(mask, base, start, size,
	    (unsigned long)asid);
}

/* One SBI call per 64-hart window of hart ids in use, as hal_ipi_send. */
int
hal_mmu_remote_fence(const hal_cpuset_t *set, vaddr_t start, size_t size,
    long asid)
{
	unsigned self = hal_cpu_id(), n = hal_ncpus();
	unsigned long base = ~0ul, mask = 0;
	long err = SBI_SUCCESS, e;

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
	return err == SBI_SUCCESS ? 0 : -EOPNOTSUPP;
}

int
hal_probe_read64(vaddr_t va, uint64_t *out)
{
	if (va & 7)
		return -EINVAL;
	return rv_probe_read64(va, out);
}

int
hal_probe_write64(vaddr_t va, uint64_t value)
{
	if (va & 7)
		return -EINVAL;
	return rv_probe_write64(va, value);
}

int
hal_probe_exec(vaddr_t va)
{
	struct rv_cpu *c = (struct rv_cpu *)hal_cpu();
	int r;

	if (va & 1)
		return -EINVAL;
	__asm__ __volatile__("fence.i" ::: "memory");
	c->probe_exec_va = va;
	r = rv_probe_exec_call(va);
	c->probe_exec_va = 0;
	return r;
}
