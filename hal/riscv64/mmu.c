/*
 * mmu.c: the C side of the test kernel's probes (hal/hal_test.h; probe.S,
 * recovery in trap.c).  The MMU primitives themselves (satp, sfence.vma,
 * SBI RFENCE) are librvmm.a's: hal/riscv64/cpu.c.
 */
#include <errno.h>

#include "hal/hal.h"
#include "hal/hal_test.h"
#include "hal/riscv64/csr.h"
#include "hal/riscv64/rv.h"

int rv_probe_read64(vaddr_t va, uint64_t *out);
int rv_probe_write64(vaddr_t va, uint64_t value);
int rv_probe_exec_call(vaddr_t va);

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
	struct rv_cpu *c = rv_self();
	int r;

	if (va & 1)
		return -EINVAL;
	__asm__ __volatile__("fence.i" ::: "memory");
	c->probe_exec_va = va;
	r = rv_probe_exec_call(va);
	c->probe_exec_va = 0;
	return r;
}
