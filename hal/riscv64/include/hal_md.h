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
#define HAL_MD_SSTATUS_SIE 0x2ul

static inline struct hal_cpu *
hal_cpu(void)
{
	struct hal_cpu *c;

	__asm__("mv %0, tp" : "=r"(c));
	return c;
}

static inline hal_intr_t
hal_intr_disable(void)
{
	unsigned long v;

	__asm__ __volatile__("csrrci %0, sstatus, 2" : "=r"(v)::"memory");
	return v & HAL_MD_SSTATUS_SIE;
}

static inline void
hal_intr_restore(hal_intr_t state)
{
	if (state & HAL_MD_SSTATUS_SIE)
		__asm__ __volatile__("csrsi sstatus, 2" ::: "memory");
}

static inline bool
hal_intr_enabled(void)
{
	unsigned long v;

	__asm__ __volatile__("csrr %0, sstatus" : "=r"(v)::"memory");
	return (v & HAL_MD_SSTATUS_SIE) != 0;
}

#endif /* RVMM_HAL_RISCV64_HAL_MD_H */
