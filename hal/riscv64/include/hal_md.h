/*
 * hal_md.h (riscv64, rvmm's tp convention): the inline fast-path
 * primitives of hal.h for a kernel whose tp holds the running hart's
 * per-CPU area, which starts with its struct hal_cpu, from entry on (rvmm's
 * test kernel does: struct rv_cpu).  Then hal_cpu_id() is one load, not a
 * call.  Not the default: meson -Dhal_md_dir=hal/riscv64/include selects
 * it (the default, hal/riscv64/md/hal_md.h, makes hal_cpu_id() a hook).
 * sstatus.SIE is the interrupt enable.  Included by hal/hal.h only.
 */
#ifndef RVMM_HAL_RISCV64_HAL_MD_H
#define RVMM_HAL_RISCV64_HAL_MD_H

#define HAL_MD_CPU 1
static inline struct hal_cpu *
hal_cpu(void)
{
	struct hal_cpu *c;

	__asm__("mv %0, tp" : "=r"(c));
	return c;
}

#include "../md/hal_md_sie.h"

#endif /* RVMM_HAL_RISCV64_HAL_MD_H */
